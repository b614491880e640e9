# %% [markdown]
# # Published versus reproduced
#
# :::{admonition} In short
# :class: tip
# {glue:text}`summary_text`
# :::
#
# Every number the study file records from the paper (its `published` section) beside the value of
# this run, with the difference. On a synthetic source the differences measure how closely the
# generator imitates the published cohort; on real data they measure how well the analysis is
# reproduced.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.configure_inline()
mm.show_notice(S)

# %% tags=["hide-input"]
validation = mm.validation_chapter(S, output_dir)
mm.publish(validation)

# %% tags=["nbval-check-output", "remove-cell"]
mm.headline(validation.headline)

# %% [markdown]
# ## Counts and headline results

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(validation.tables["headline"])

# %% [markdown]
# ## The paper's tables
#
# Each descriptive and regression table the paper gives, value by value.

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show_tables(mm.published_tables(validation))

# %% [markdown]
# ## Agreement with R and benchmarks
#
# The largest differences from R, as the test suite measured them on the R outputs committed in
# the repository (each fixture is named with the R and package versions that made it), and the
# benchmark figures; both recorded in `micromet/data/r_agreement.json`, which the tests check
# against a fresh measurement.

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(validation.tables["r_agreement"])

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(validation.tables["benchmarks"])
