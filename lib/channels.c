/* The channel table (see channels.h). */
#include "channels.h"

const struct channel_info channel_table[CHANNELS] = {
	[CHANNEL_VELOCITY] = { "v_r", "radial velocity (positive toward the observer)", QUANTITY_VELOCITY,
			       "1e7 cm/s" },
	[CHANNEL_DENSITY] = { "rho", "gas mass density", QUANTITY_DENSITY, "g/(1e7 cm)^3" },
	[CHANNEL_TEMPERATURE] = { "T", "gas kinetic temperature", QUANTITY_TEMPERATURE, "K" },
	[CHANNEL_H2] = { "x_H2", "H2 abundance per H nucleus", QUANTITY_NONE, "1" },
	[CHANNEL_CO] = { "x_CO", "CO abundance per H nucleus", QUANTITY_NONE, "1" },
	[CHANNEL_DUST_TEMPERATURE] = { "T_dust", "dust temperature", QUANTITY_TEMPERATURE, "K" },
};
