#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

static const struct {
	char unit;
	double seconds;
} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};

int duration_parse(const char *text, double *seconds_out)
{
	char *end;
	errno = 0;
	double v = text ? strtod(text, &end) : 0;
	if (!text || errno || end == text || !(v > 0) || !isfinite(v))
		return -EINVAL;
	double scale = 1;
	if (*end) {
		size_t i = 0, n = sizeof(units) / sizeof(units[0]);
		while (i < n && units[i].unit != *end)
			i++;
		if (i == n || end[1] != '\0')
			return -EINVAL;
		scale = units[i].seconds;
	}
	*seconds_out = v * scale;
	return 0;
}
