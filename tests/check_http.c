#include "check_main.h"
int main(void)
{
	return check_main_run(suite_create("http"));
}
