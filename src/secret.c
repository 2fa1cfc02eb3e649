/* being written */
#include "secret.h"
