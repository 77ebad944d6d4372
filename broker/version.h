/* version.h - Umbra's version string. */
#ifndef UMBRA_VERSION_H
#define UMBRA_VERSION_H
#define UMBRA_VERSION "0.1.0"
#endif
