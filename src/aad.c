/* being written */
#include "aad.h"
