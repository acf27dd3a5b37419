/* The paper's 12 classes: their number, our names in the paper's index order (sorted), and the
 * most likely class of a score vector. */
#ifndef ADVINST_CLASSES_H
#define ADVINST_CLASSES_H

#define ADV_N_CLASSES 12

/* "accordion", "acoustic_guitar", ..., "marimba_and_xylophone". */
extern const char *const adv_class_names[ADV_N_CLASSES];

/* Index of a class name (exact match), or -1. */
int adv_class_index(const char *name);

/* Index of the largest of scores[ADV_N_CLASSES] (logits or probabilities; the first on ties). */
int adv_most_likely(const float *scores);
#endif
