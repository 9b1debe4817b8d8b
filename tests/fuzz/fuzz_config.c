/*
 * libFuzzer target for the config.toml reader: feeds arbitrary bytes to
 * ivi_config_parse and, when they parse, to ivi_config_validate. Any crash,
 * sanitizer report or leak is a bug in config/.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "ivi_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ivi_config *cfg = NULL;
	char err[512];

	if (ivi_config_parse("fuzz.toml", "/etc/ivicli", (const char *)data, size, &cfg, err,
	    sizeof(err)) == 0) {
		(void)ivi_config_validate(cfg, err, sizeof(err));
		ivi_config_free(cfg);
	}
	return 0;
}
