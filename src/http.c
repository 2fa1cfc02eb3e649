/* being written */
#include "http.h"
