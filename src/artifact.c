/* being written */
#include "artifact.h"
