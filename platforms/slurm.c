/* being written */
#include "platform_ops.h"
