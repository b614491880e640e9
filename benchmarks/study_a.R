# Study A (Luo et al., Int J Women's Health 2025) in plain R, as the paper's authors would run it:
# the same SEER*Stat case-listing export that `micromet run studies/seer_m0i.yml --data` reads,
# the same cohort, 1:2 propensity-score matching (MatchIt), Kaplan-Meier / log-rank / Cox
# (survival) and cumulative incidence / Gray / Fine-Gray (cmprsk). The yardstick of
# benchmarks/bench_study_vs_r.py; it prints its own elapsed time (reading included).
#
#   Rscript benchmarks/study_a.R <export.csv> [--json <summary.json>] [--figures <file.pdf>]
#
# --json writes the numbers to compare with micromet's results.json (matched counts, events,
# log-rank and Gray p, univariable/multivariable HRs named as micromet names terms: grade[III]).
# --figures keeps the figures (KM, CIF, love plot); by default they are drawn into a temporary PDF
# and deleted (micromet draws its four figures too, so both sides do the same work).
# Packages: Debian's r-cran-survival, r-cran-matchit, r-cran-cmprsk, r-cran-data.table.

t_start <- proc.time()

suppressPackageStartupMessages({
  library(data.table)
  library(survival)
  library(MatchIt)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript study_a.R <export.csv> [--json out.json] [--figures f.pdf]")
export <- args[1]
opt <- function(flag) {
  i <- match(flag, args)
  if (is.na(i) || i == length(args)) NULL else args[i + 1]
}
json_out <- opt("--json")
fig_out <- opt("--figures")

# ---- read: every field as text, SEER*Stat labels kept as written ("NA" is a label, not missing)
raw <- fread(export, colClasses = "character", na.strings = NULL, encoding = "UTF-8",
             showProgress = FALSE)
n_raw <- nrow(raw)
col <- function(...) {  # first of the spellings present (SEER*Stat databases differ)
  for (nm in c(...)) if (nm %in% names(raw)) return(raw[[nm]])
  stop("column missing: ", paste(c(...), collapse = " / "))
}

# ---- recode (micromet/seer.py tables; notes/TIDY.md)
age_lab <- col("Age recode with single ages and 90+")
age <- suppressWarnings(as.numeric(sub("\\+? years?$", "", age_lab)))  # "90+ years" -> 90

grade_lab <- col("Derived Summary Grade 2018 (2018+)")
grade <- ifelse(grade_lab %in% c("1", "2", "A", "B"), "I-II",
                ifelse(grade_lab %in% c("3", "C"), "III", NA))

size_lab <- col("Tumor Size Summary (2016+)")
size <- suppressWarnings(as.numeric(size_lab))
size[!grepl("^[0-9]{3}$", size_lab) | is.na(size) | size < 1 | size > 989] <- NA  # 000, 990-999

receptor <- function(x) ifelse(x %in% c("Negative", "Positive"), x, NA)
subtypes <- c("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-")

t_lab <- col("Derived EOD 2018 T Recode (2018+)", "Derived EOD 2018 T (2018+)")
t_stage <- ifelse(t_lab %in% c("T1mi", "T1a", "T1b", "T1c", "T1", "T2"), "T1-T2",
                  ifelse(t_lab %in% c("T3", "T4", "T4a", "T4b", "T4c", "T4d"), "T3-T4", NA))
n_lab <- col("Derived EOD 2018 N Recode (2018+)", "Derived EOD 2018 N (2018+)")
n_stage <- ifelse(n_lab %in% c("N0", "N0(i+)", "N0(mol+)"), "N0",
                  ifelse(n_lab %in% c("N1mi", "N1", "N1a", "N1b", "N1c", "N2", "N2a", "N2b",
                                      "N3", "N3a", "N3b", "N3c"), "N1-N3", NA))

surv_lab <- col("Survival months")
time_months <- suppressWarnings(as.numeric(surv_lab))
time_months[surv_lab %in% c("Unknown", "9999")] <- NA

vital_lab <- col("Vital status recode (study cutoff used)")
cs <- col("SEER cause-specific death classification")
oc <- col("SEER other cause of death classification")
not_seq <- "N/A not seq 0-59"
bc <- cs == "Dead (attributable to this cancer dx)"
other <- oc == "Dead (attributable to causes other than this cancer dx)"
# cmprsk coding: 0 alive, 1 breast-cancer death, 2 other cause; NA unknown cause (or not seq 0-59)
event <- ifelse(cs == not_seq | oc == not_seq, NA,
         ifelse(vital_lab == "Alive", 0,
         ifelse(bc & !other, 1, ifelse(other & !bc, 2, NA))))

d <- data.table(
  sex = col("Sex"),
  year = as.integer(col("Year of diagnosis")),
  age = age,
  histology = ifelse(col("Histologic Type ICD-O-3") %in% c("8500", "8522"), "IDC", "Other"),
  grade = grade,
  tumor_size_mm = size,
  er = receptor(col("ER Status Recode Breast Cancer (1990+)", "ER Status Recode Breast Cancer (2010+)")),
  pr = receptor(col("PR Status Recode Breast Cancer (1990+)", "PR Status Recode Breast Cancer (2010+)")),
  her2 = receptor(col("Derived HER2 Recode (2010+)")),
  subtype = ifelse(col("Breast Subtype (2010+)") %in% subtypes, col("Breast Subtype (2010+)"), NA),
  t_label = t_lab, t_stage = t_stage, n_stage = n_stage,
  m_stage = col("Derived EOD 2018 M Recode (2018+)", "Derived EOD 2018 M (2018+)"),
  time_months = time_months,
  vital = as.integer(vital_lab == "Dead"),
  event = event
)
rm(raw)

# ---- cohort (studies/seer_m0i.yml: extract = 2018-2022, M0 / M0(i+); then the flowchart)
groups <- c("M0", "M0(i+)")
d <- d[m_stage %in% groups & year >= 2018 & year <= 2022]
flow <- list()
step <- function(name, keep) {
  keep[is.na(keep)] <- FALSE
  d <<- d[keep]
  flow[[name]] <<- table(factor(d$m_stage, groups))
}
step("extracted", rep(TRUE, nrow(d)))
step("female", d$sex == "Female")
step("age 18-89", d$age >= 18 & d$age <= 89)
step("grade known", !is.na(d$grade))
step("not Tis or T0", !(d$t_label %in% c("T0", "Tis", "Tis(DCIS)", "Tis(Paget)", "Tis(LAMN)")))
step("complete information", complete.cases(d[, .(tumor_size_mm, er, pr, her2, subtype, t_stage,
                                                   n_stage, time_months)]))
step("known cause of death", !is.na(d$event))
cat(sprintf("read %s: %d rows\ncohort flow (M0, M0(i+)):\n", basename(export), n_raw))
for (s in names(flow)) cat(sprintf("  %-22s %7d %5d\n", s, flow[[s]][1], flow[[s]][2]))

levels_of <- list(histology = c("IDC", "Other"), grade = c("I-II", "III"),
                  er = c("Negative", "Positive"), pr = c("Negative", "Positive"),
                  her2 = c("Negative", "Positive"), subtype = subtypes,
                  t_stage = c("T1-T2", "T3-T4"), n_stage = c("N0", "N1-N3"), m_stage = groups)
for (v in names(levels_of)) set(d, j = v, value = factor(d[[v]], levels_of[[v]]))
d[, treat := as.integer(m_stage == "M0(i+)")]
cohort <- as.data.frame(d)

continuous <- c("age", "tumor_size_mm")
categorical <- c("histology", "grade", "er", "pr", "her2", "subtype", "t_stage", "n_stage")
covariates <- c(continuous, categorical)

# ---- Table 1 / Table 2: median (IQR) + Wilcoxon rank-sum; n (%) + Pearson chi-squared
describe <- function(data, title) {
  cat(sprintf("\n%s (n = %d M0, %d M0(i+))\n", title, sum(data$treat == 0), sum(data$treat == 1)))
  for (v in continuous) {
    q <- tapply(data[[v]], data$m_stage, quantile, probs = c(0.25, 0.5, 0.75))
    p <- wilcox.test(data[[v]] ~ data$m_stage)$p.value
    cat(sprintf("  %-14s M0 %g (%g-%g)  M0(i+) %g (%g-%g)  p = %.4g\n", v, q[[1]][2], q[[1]][1],
                q[[1]][3], q[[2]][2], q[[2]][1], q[[2]][3], p))
  }
  for (v in categorical) {
    tab <- table(data[[v]], data$m_stage)
    p <- suppressWarnings(chisq.test(tab, correct = FALSE)$p.value)
    cat(sprintf("  %-14s %s  p = %.4g\n", v,
                paste(sprintf("%s %d/%d", rownames(tab), tab[, 1], tab[, 2]), collapse = ", "), p))
  }
}
fu <- function(data) {  # median follow-up by reverse Kaplan-Meier
  q <- quantile(survfit(Surv(time_months, 1 - vital) ~ 1, data = data), c(0.25, 0.5, 0.75))$quantile
  c(median = unname(q[2]), q1 = unname(q[1]), q3 = unname(q[3]), max = max(data$time_months))
}
describe(cohort, "Table 1, before matching")
f0 <- fu(cohort)
cat(sprintf("  follow-up (reverse KM) median %g (IQR %g-%g), max %g\n", f0[1], f0[2], f0[3], f0[4]))

# ---- propensity score (logistic regression, ten covariates) and 1:2 nearest-neighbour matching
ps_formula <- as.formula(paste("treat ~", paste(covariates, collapse = " + ")))
m <- matchit(ps_formula, data = cohort, method = "nearest", ratio = 2, replace = FALSE,
             caliper = 0.2, std.caliper = TRUE, distance = "glm", link = "linear.logit",
             m.order = "largest")
ps <- m$model  # the glm(binomial) MatchIt fitted
cat("\npropensity model (glm binomial):", sum(!is.na(coef(ps))), "estimable coefficients;",
    "aliased:", paste(names(coef(ps))[is.na(coef(ps))], collapse = ", "), "\n")
bal <- summary(m, un = TRUE)
smd_before <- bal$sum.all[, "Std. Mean Diff."]
smd_after <- bal$sum.matched[, "Std. Mean Diff."]
cat(sprintf("caliper %.6f (0.2 SD of the linear logit)\n", m$caliper))
cat(sprintf("max |SMD| before %.4f, after %.4f (covariates)\n",
            max(abs(smd_before[-1])), max(abs(smd_after[-1]))))
md <- match.data(m)
matched <- table(md$m_stage)
cat(sprintf("MATCHED: M0 %d, M0(i+) %d\n", matched[["M0"]], matched[["M0(i+)"]]))
describe(md, "Table 2, after matching")
f1 <- fu(md)

# ---- model helpers: term names as micromet writes them (grade[III], m_stage[M0(i+)])
term_names <- function(vars, data) {
  unlist(lapply(vars, function(v) {
    if (is.factor(data[[v]])) paste0(v, "[", levels(data[[v]])[-1], "]") else v
  }))
}
hr_rows <- function(coef, se, p, terms) {
  out <- data.frame(hr = exp(coef), lower = exp(coef - qnorm(0.975) * se),
                    upper = exp(coef + qnorm(0.975) * se), p = p, row.names = terms)
  out
}
cox_rows <- function(vars, data) {
  f <- as.formula(paste("Surv(time_months, vital) ~", paste(vars, collapse = " + ")))
  fit <- suppressWarnings(coxph(f, data = data, ties = "efron"))
  cf <- coef(fit)
  se <- rep(NA_real_, length(cf))
  se[!is.na(cf)] <- sqrt(diag(vcov(fit)))
  list(fit = fit, table = hr_rows(cf, se, 2 * pnorm(-abs(cf / se)), term_names(vars, data)))
}
crr_rows <- function(vars, data) {
  X <- model.matrix(as.formula(paste("~", paste(vars, collapse = " + "))), data)[, -1, drop = FALSE]
  colnames(X) <- term_names(vars, data)
  q <- qr(X)  # aliased dummies (subtype given ER, PR, HER2) are dropped, as coxph does
  keep <- sort(q$pivot[seq_len(q$rank)])
  fit <- suppressWarnings(crr(data$time_months, data$event, cov1 = X[, keep, drop = FALSE],
                              failcode = 1, cencode = 0))
  se <- sqrt(diag(fit$var))
  tab <- hr_rows(fit$coef, se, 2 * pnorm(-abs(fit$coef / se)), colnames(X)[keep])
  if (length(keep) < ncol(X)) {
    na <- data.frame(hr = NA, lower = NA, upper = NA, p = NA, row.names = colnames(X)[-keep])
    tab <- rbind(tab, na)
  }
  list(fit = fit, table = tab)
}
screen <- function(fitter, data) {  # univariable each; multivariable: p < 0.05 + exposure
  uni <- lapply(c(covariates, "m_stage"), function(v) fitter(v, data))
  names(uni) <- c(covariates, "m_stage")
  chosen <- covariates[vapply(covariates, function(v) any(uni[[v]]$table$p < 0.05, na.rm = TRUE),
                              logical(1))]
  multi <- fitter(c(chosen, "m_stage"), data)
  list(uni = do.call(rbind, unname(lapply(uni, `[[`, "table"))), multi = multi, chosen = chosen)
}
show <- function(tab, title) {
  cat(title, "\n")
  for (i in seq_len(nrow(tab))) {
    cat(sprintf("  %-22s %10.4g (%.4g-%.4g)  p = %.4g\n", rownames(tab)[i], tab$hr[i],
                tab$lower[i], tab$upper[i], tab$p[i]))
  }
}

# ---- overall survival: Kaplan-Meier, log-rank, Cox, proportional hazards
km <- survfit(Surv(time_months, vital) ~ m_stage, data = md)
km_at <- summary(km, times = c(12, 24, 36, 48))
lr <- survdiff(Surv(time_months, vital) ~ m_stage, data = md)
lr_p <- pchisq(lr$chisq, df = length(lr$n) - 1, lower.tail = FALSE)
os <- screen(cox_rows, md)
zph <- cox.zph(os$multi$fit)
cat(sprintf("\nOverall survival: %d deaths; log-rank chisq %.4f, p = %.4g\n", sum(md$vital),
            lr$chisq, lr_p))
cat(sprintf("  follow-up after matching (reverse KM) median %g (IQR %g-%g), max %g\n",
            f1[1], f1[2], f1[3], f1[4]))
show(os$uni, "Cox, univariable")
cat("  multivariable covariates:", paste(c(os$chosen, "m_stage"), collapse = ", "), "\n")
show(os$multi$table, "Cox, multivariable")
cat(sprintf("  cox.zph GLOBAL p = %.4g\n", zph$table["GLOBAL", "p"]))

# ---- breast-cancer-specific mortality: cumulative incidence, Gray's test, Fine-Gray
ci <- cuminc(md$time_months, md$event, group = md$m_stage, cencode = 0)
ci_at <- timepoints(ci, c(12, 24, 36, 48))
gray <- ci$Tests["1", ]
bcsm <- screen(crr_rows, md)
cat(sprintf("\nBCSM: %d breast-cancer deaths, %d other deaths; Gray's test stat %.4f, p = %.4g\n",
            sum(md$event == 1), sum(md$event == 2), gray[["stat"]], gray[["pv"]]))
show(bcsm$uni, "Fine-Gray, univariable")
cat("  multivariable covariates:", paste(c(bcsm$chosen, "m_stage"), collapse = ", "), "\n")
show(bcsm$multi$table, "Fine-Gray, multivariable")

# ---- figures (KM, CIF, love plot), as the paper has them
pdf_file <- if (is.null(fig_out)) tempfile(fileext = ".pdf") else fig_out
pdf(pdf_file, width = 7, height = 5)
plot(km, col = 1:2, xlab = "Months", ylab = "Overall survival", mark.time = FALSE)
legend("bottomleft", groups, col = 1:2, lty = 1)
plot(ci, xlab = "Months", ylab = "Cumulative incidence", col = c(1, 2, 1, 2), lty = c(1, 1, 2, 2))
plot(bal, var.order = "unmatched")
invisible(dev.off())
if (is.null(fig_out)) unlink(pdf_file)

elapsed <- (proc.time() - t_start)[["elapsed"]]
cat(sprintf("\nR elapsed (proc.time, reading included): %.2f s\n", elapsed))

if (!is.null(json_out)) {
  rows <- function(tab) {
    out <- lapply(seq_len(nrow(tab)), function(i) {
      v <- unlist(tab[i, c("hr", "lower", "upper", "p")])
      if (any(is.na(v))) NULL else unname(v)
    })
    names(out) <- rownames(tab)
    out
  }
  res <- list(
    n_raw = n_raw,
    final = as.list(setNames(as.integer(flow[["known cause of death"]]), groups)),
    matched = as.list(setNames(as.integer(matched[groups]), groups)),
    caliper_distance = m$caliper,
    smd_before = as.list(smd_before), smd_after = as.list(smd_after),
    followup_before = as.list(f0), followup_after = as.list(f1),
    os = list(deaths = sum(md$vital), logrank = list(statistic = lr$chisq, p = lr_p),
              univariable = rows(os$uni), multivariable = rows(os$multi$table),
              multivariable_covariates = c(os$chosen, "m_stage"),
              zph_global_p = zph$table["GLOBAL", "p"]),
    bcsm = list(events_cause = sum(md$event == 1), events_competing = sum(md$event == 2),
                gray = list(statistic = gray[["stat"]], p = gray[["pv"]]),
                univariable = rows(bcsm$uni), multivariable = rows(bcsm$multi$table),
                multivariable_covariates = c(bcsm$chosen, "m_stage")),
    elapsed_s = elapsed,
    versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                    survival = as.character(packageVersion("survival")),
                    MatchIt = as.character(packageVersion("MatchIt")),
                    cmprsk = as.character(packageVersion("cmprsk")),
                    data.table = as.character(packageVersion("data.table")))
  )
  if (requireNamespace("jsonlite", quietly = TRUE)) {
    writeLines(jsonlite::toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
               json_out)
  } else {
    dput(res, file = json_out)
  }
}
