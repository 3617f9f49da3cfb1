/* SPDX-License-Identifier: MIT */
/*
 * What the loader's main.c gives its other files, for unit tests that
 * compile those files in: fail() records its one line in loader_fail_line
 * and jumps back to loader_failed (set it with setjmp first) instead of
 * ending PID 1; note() prints nothing; uptime() is 0.
 */
#ifndef EROOT_TEST_LOADER_STUBS_H
#define EROOT_TEST_LOADER_STUBS_H

#include <setjmp.h>

extern jmp_buf loader_failed;
extern char loader_fail_line[1024];

#endif
