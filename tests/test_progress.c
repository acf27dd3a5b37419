/* The progress bar's fraction and ETA: by items, and weighted by work (what the experiment
 * engine uses, so that the long clips it runs first do not inflate the ETA). */
#include "advinst/progress.h"
#include "testutil.h"
#include <stdlib.h>

int main(void)
{
    setenv("ADVINST_NO_PROGRESS", "1", 1);   /* nothing drawn: the numbers only */
    adv_progress p;
    adv_progress_start(&p, "items", 4);
    CHECK(p.enabled == 0, "ADVINST_NO_PROGRESS=1 turns drawing off");
    CHECK(adv_progress_eta(&p, p.start + 5) == -1, "no ETA before anything is done");
    adv_progress_update(&p, 1, "a");
    CHECK_NEAR(adv_progress_fraction(&p), 0.25, 1e-12, "1 of 4 items");
    CHECK_NEAR(adv_progress_eta(&p, p.start + 10), 30, 1e-9, "10 s for a quarter: 30 s left");
    adv_progress_update(&p, 4, NULL);
    CHECK_NEAR(adv_progress_eta(&p, p.start + 40), 0, 1e-12, "all done: nothing left");
    adv_progress_update(&p, 9, NULL);
    CHECK_NEAR(adv_progress_fraction(&p), 1, 0, "more than the total reads as done");

    /* one 30 s clip's job done out of 1 + 10 x 2 s: by items 1/11, by work 30/50 */
    adv_progress_start(&p, "work", 11);
    adv_progress_set_work(&p, 50);
    adv_progress_update_work(&p, 1, 30, "long");
    CHECK_NEAR(adv_progress_fraction(&p), 0.6, 1e-12, "the fraction follows the work");
    CHECK_NEAR(adv_progress_eta(&p, p.start + 60), 40, 1e-9, "60 s for 60 %%: 40 s left");
    adv_progress_update_work(&p, 11, 50, NULL);
    CHECK_NEAR(adv_progress_eta(&p, p.start + 100), 0, 1e-12, "all the work done");
    adv_progress_set_work(&p, 0);
    CHECK_NEAR(adv_progress_fraction(&p), 1, 0, "no work total: back to counting items");
    return tu_finish("test_progress");
}
