/* The class names and the most likely class (see include/advinst/classes.h). */
#include "advinst/classes.h"
#include <string.h>

const char *const adv_class_names[ADV_N_CLASSES] = {
    "accordion", "acoustic_guitar", "bass_drum", "bass_guitar", "electric_guitar", "female_singing",
    "glockenspiel", "gong", "harmonica", "hi-hat", "male_singing", "marimba_and_xylophone"};

int adv_class_index(const char *name)
{
    for (int c = 0; c < ADV_N_CLASSES; c++)
        if (strcmp(name, adv_class_names[c]) == 0) return c;
    return -1;
}

int adv_most_likely(const float *scores)
{
    int best = 0;
    for (int k = 1; k < ADV_N_CLASSES; k++)
        if (scores[k] > scores[best]) best = k;
    return best;
}
