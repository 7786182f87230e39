/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "manager.h"

/* Serves the control socket: the one systemd passed, or
 * RUNTIME_DIRECTORY/control.sock bound here. */
int control_start(Manager *m);
void control_stop(Manager *m);
