/* The paper's network: parameters (with the PyTorch state_dict names), safetensors load/save,
 * and a workspace that runs it forward and backward for a batch of N inputs of 100 x T frames. */
#ifndef ADVINST_MODEL_H
#define ADVINST_MODEL_H
#include "advinst/classes.h"
#include "advinst/nn.h"
#include "advinst/frontend.h"
#include "advinst/safetensors.h"

#define ADV_N_CONV 8
#define ADV_N_BN 7
#define ADV_CLASS_NAME_MAX 32

/* The network, described once: layer i is conv{i+1} (PyTorch names "conv{i+1}.weight" ...), then,
 * if bn, ReLU and BatchNorm "bn{i+1}" (model.bn[i]), then average pooling pool_h x pool_w if
 * pool_h > 0, then dropout with probability `dropout` in training if > 0. The last layer's output
 * goes to the head (mean over frequency, max over time). The table drives the model's shapes and
 * file names, the network's buffers, forward and backward, and the FLOP count. */
typedef struct {
    int cin, cout, k, stride, pad;
    int bn;
    int pool_h, pool_w;
    float dropout;
} adv_layer;
extern const adv_layer adv_layers[ADV_N_CONV];

typedef struct {
    adv_conv conv[ADV_N_CONV];
    adv_bn bn[ADV_N_BN];
    float fe_mean[ADV_N_MELS], fe_std[ADV_N_MELS];
    char classes[ADV_N_CLASSES][ADV_CLASS_NAME_MAX];
    /* Free-form metadata kept on save (training data, epochs, accuracy...). */
    char **meta_keys, **meta_values;
    int meta_count;
    float *param_block, *grad_block;   /* every parameter / gradient, contiguous */
    size_t n_params;                   /* floats in param_block (trainable: conv w/b, bn gamma/beta) */
} adv_model;

/* Class index of a name (case-insensitive, '-'/'_' and spaces equivalent), or -1. */
int adv_model_class_index(const adv_model *m, const char *name);

/* A model with PyTorch's default initialisation (kaiming-uniform a=sqrt(5)), seeded. */
adv_model *adv_model_create(uint64_t seed);
/* An untrained model whose predictions depend on the input (for demos and tests without a trained
 * model): adv_model_create's initialisation, front-end statistics mean -45 / std 15, BatchNorm
 * running statistics estimated on synthetic tones (training-mode forwards, dropout off), conv8
 * scaled x5 for O(1) logits. NULL with adv_error on failure. */
adv_model *adv_model_create_calibrated(uint64_t seed);
/* Loads and validates a safetensors model (names, dtypes, shapes, metadata). */
adv_model *adv_model_load(const char *path);
adv_model *adv_model_load_memory(const void *image, size_t size, const char *name);
/* Saves atomically; extra metadata pairs are added to the model's own. */
int adv_model_save(const adv_model *m, const char *path);
int adv_model_set_meta(adv_model *m, const char *key, const char *value);
/* The model's tensors and metadata as a safetensors builder (to add more, e.g. optimiser state);
 * st must be zero-initialised; free with adv_st_free. */
int adv_model_to_st(const adv_model *m, adv_st *st);
/* A model from parsed tensors; tensors named ignore_prefix... are skipped (NULL: none allowed). */
adv_model *adv_model_from_st(const char *file, const adv_st *st, const char *ignore_prefix);
const char *adv_model_get_meta(const adv_model *m, const char *key);
void adv_model_free(adv_model *m);
/* Zeroes the parameter gradients. */
void adv_model_zero_grad(adv_model *m);

/* Path of the shipped default model, or NULL if not found: $ADVINST_MODEL, else the installed one
 * (share/advinst/models of the prefix the executable runs from), else the source tree's. */
const char *adv_default_model_path(void);

/* ---- Running the network ---- */
typedef struct adv_net adv_net;

/* Workspace for a batch of n inputs of 100 x t frames (t >= 35). training: batch-statistics
 * BatchNorm, dropout (seeded by dropout_seed), and the buffers for parameter gradients. */
adv_net *adv_net_create(adv_model *m, int n, int t, int training, uint64_t dropout_seed);
void adv_net_free(adv_net *net);
int adv_net_batch(const adv_net *net);
int adv_net_frames(const adv_net *net);

/* x[n][100][t] -> logits[n][12]. */
void adv_net_forward(adv_net *net, const float *x, float *logits);
/* glogits[n][12] -> gx[n][100][t] (NULL: skip) and, in training, parameter gradients (+=). */
void adv_net_backward(adv_net *net, const float *glogits, float *gx);

/* Evaluation networks transform the convolution weights (Winograd) when they are created; after
 * changing the model's weights in place, call this before the next forward. Training networks
 * transform them at every forward. */
void adv_net_refresh(adv_net *net);

/* Time steps of the head (the network's output width) and the per-time-step class scores of the
 * last forward: the head's mean over frequency before its max over time, scores[n][12][steps]. */
int adv_net_time_steps(const adv_net *net);
void adv_net_step_scores(const adv_net *net, float *scores);
/* Backward from d loss / d scores (as adv_net_step_scores lays them out) instead of the logits. */
void adv_net_backward_steps(adv_net *net, const float *gscores, float *gx);

/* Training only: turn dropout off/on (for reference checks of batch-statistics BatchNorm). */
void adv_net_set_dropout(adv_net *net, int enabled);
/* Reseeds the dropout generator (training is seeded per batch for exact resumption). */
void adv_net_set_rng(adv_net *net, uint64_t seed);

/* FLOPs (multiply-add = 2) of one forward of one input of t frames, convolutions only (direct
 * convolution count, also for layers run as Winograd). */
double adv_net_conv_flops(int t);
/* The same for layer i alone, and its output size (h x w) for an input of t frames. */
double adv_net_layer_flops(int i, int t, int *h, int *w);
#endif
