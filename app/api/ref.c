/* ref.c: the reference count of struct api. Every layer of app/api that
 * keeps the server alive across a callback (a reply's ctx, a token query, a
 * closing timer) takes a reference here; the last one hands the object to
 * the destroy hook that the server set, so that nothing below the server
 * calls up into it. */
#include "api/internal.h"

void api__ref(struct api *api)
{
	api->refs++;
}

void api__unref(struct api *api)
{
	if (--api->refs > 0)
		return;
	api->destroy(api);
}
