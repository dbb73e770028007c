#ifndef NARWHAL_CKERNELS_H
#define NARWHAL_CKERNELS_H
#include <stdint.h>
#include <stddef.h>
#endif
