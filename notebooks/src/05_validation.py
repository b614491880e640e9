# %% [markdown]
# # Published versus reproduced
#
# Every number of the paper's tables and text beside the value of this run, with the difference.
# On the synthetic source the differences measure how closely the generator imitates the published
# cohort; on a real SEER export they measure how well the analysis is reproduced.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.show_notice(S)

# %%
validation = mm.validation_chapter(S, output_dir)
mm.publish(validation)

# %% tags=["nbval-check-output"]
mm.headline(validation.headline)

# %% [markdown]
# ## Counts and headline results

# %% tags=["nbval-ignore-output"]
validation.tables["headline"]

# %% [markdown]
# ## Table 1 and Table 2

# %% tags=["nbval-ignore-output"]
validation.tables["table1"]

# %% tags=["nbval-ignore-output"]
validation.tables["table2"]

# %% [markdown]
# ## Table 3 and Table 4 (hazard ratios)

# %% tags=["nbval-ignore-output"]
validation.tables["table3"]

# %% tags=["nbval-ignore-output"]
validation.tables["table4"]

# %% [markdown]
# ## Agreement with R and benchmarks
#
# The largest differences from R, as the test suite measured them on the R outputs committed in
# the repository (each fixture is named with the R and package versions that made it), and the
# benchmark figures; both recorded in `micromet/data/r_agreement.json`, which the tests check
# against a fresh measurement.

# %% tags=["nbval-ignore-output"]
validation.tables["r_agreement"]

# %% tags=["nbval-ignore-output"]
validation.tables["benchmarks"]
