"""TAP output for the Python tests (integration, faults): numbered checks,
the plan at the end, a diagnostic of at most 40 lines per failed check."""
import time


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, diag=""):
        self.n += 1
        print(("ok %d - %s" % (self.n, what)) if cond else ("not ok %d - %s" % (self.n, what)), flush=True)
        if not cond:
            self.failed += 1
            for line in str(diag).splitlines()[:40]:
                print("# " + line, flush=True)
        return cond

    def skip(self, what, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, what, why), flush=True)

    def note(self, text):
        for line in str(text).splitlines():
            print("# " + line, flush=True)

    def done(self):
        """Prints the plan; returns the exit status (1 when a check failed or none ran)."""
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed or self.n == 0 else 0


def wait_for(pred, timeout, step=0.1):
    """pred() once it is true, or its last value after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)
