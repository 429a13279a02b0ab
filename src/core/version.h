/* gsvae's version: `gsvae --version`, `gsvae info`, and run.h5's env/gsvae_version. */
#pragma once

#define GSVAE_VERSION "0.2.0"
