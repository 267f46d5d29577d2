/* The six channels of views and physical tensors, described once: their
 * order, names, processing units and the IRIS unit that converts each. Every
 * piece of code that needs to know what channel i is asks this table. */
#ifndef AREPO_CHANNELS_H
#define AREPO_CHANNELS_H

enum channel {
	CHANNEL_VELOCITY,          /* radial velocity, + toward the observer */
	CHANNEL_DENSITY,           /* gas mass density */
	CHANNEL_TEMPERATURE,       /* gas kinetic temperature, +inf above T_inf */
	CHANNEL_H2,                /* H2 abundance per H nucleus */
	CHANNEL_CO,                /* CO abundance per H nucleus */
	CHANNEL_DUST_TEMPERATURE,  /* dust temperature */
	CHANNELS
};

/* The quantity a channel's values are, for unit conversions. */
enum channel_quantity { QUANTITY_VELOCITY, QUANTITY_DENSITY, QUANTITY_TEMPERATURE, QUANTITY_NONE };

struct channel_info {
	const char *name;         /* short name, as in files and on the command line */
	const char *description;
	enum channel_quantity quantity;
	const char *processing_units; /* with the default writer_hyper units */
};

extern const struct channel_info channel_table[CHANNELS];

#endif
