"""What a chapter notebook imports as ``mm``: the chapters and the report layer, in one name.

The code lives in one home per concept (this module holds none):

* :mod:`micromet.sources` — where the rows come from (export, CSV, ``synthetic://``);
* :mod:`micromet.store` — what a run passes between chapters (``data/``, ``summaries/``);
* :mod:`micromet.report` — formatting, the notice, headlines, masking at the page boundary;
* :mod:`micromet.analyses` — descriptive and model tables, published versus reproduced;
* :mod:`micromet.chapters` — one function per chapter (cohort, matching, time to event,
  competing risks, validation) and its figures;
* :mod:`micromet.agreement` — agreement with R on the committed reference outputs.
"""

from __future__ import annotations

from micromet.agreement import (  # noqa: F401
    r_agreement,
)
from micromet.analyses import (  # noqa: F401
    analysis_data,
    comparison_table,
    conditioning_record,
    describe_groups,
    exposure_term,
    followup,
    model_rows,
    model_table,
    regression_table,
    screen,
    screen_and_fit,
    term_label,
)
from micromet.chapters.cohort import (  # noqa: F401
    CohortChapter,
    cohort_chapter,
    flowchart_figure,
)
from micromet.chapters.competing_risks import (  # noqa: F401
    CompetingChapter,
    bcsm_chapter,
    cif_figure,
    gray_groups,
)
from micromet.chapters.matching import (  # noqa: F401
    MatchingChapter,
    analysed_set,
    love_plot_figure,
    matching_chapter,
)
from micromet.chapters.robustness import (  # noqa: F401
    RobustnessChapter,
    power_figure,
    robustness_chapter,
    sweep_figure,
)
from micromet.chapters.time_to_event import (  # noqa: F401
    SurvivalChapter,
    km_figure,
    os_chapter,
)
from micromet.chapters.validation import (  # noqa: F401
    ValidationChapter,
    compare_published,
    published_tables,
    validation_chapter,
)
from micromet.paper import (  # noqa: F401
    ARTEFACT,
    ARTEFACT_NOTE,
    beside_published,
    models_vs_published,
    published_artefacts,
    versus_published,
)
from micromet.plots_style import configure_inline  # noqa: F401
from micromet.report import (  # noqa: F401
    apply_withheld,
    fmt_count,
    fmt_hr,
    fmt_p,
    glue_figure,
    headline,
    median_display,
    nothing_drawn,
    parameters_table,
    plain_value,
    pretty,
    publish,
    published_size,
    records_of,
    rounded,
    say_hidden,
    show,
    show_figure,
    show_notice,
    show_tables,
    shown_count,
    study_parameters,
    survival_at_display,
    uses_suppression,
    warning_notes,
    without_small_groups,
)
from micromet.sources import (  # noqa: F401
    TREATED,
    analysis_frame,
    cache_dir,
    check_source,
    exposure_categorical,
    group_counts,
    read_source,
    restrict_extract,
    write_synthetic_export,
)
from micromet.store import (  # noqa: F401
    DATA_DIR,
    SUMMARIES_DIR,
    load_frame,
    load_summary,
    save_frame,
    save_summary,
)
