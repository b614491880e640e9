# Reference outputs of coxphf 1.13.4 (Firth-penalized Cox, Heinze & Schemper 2001) for
# micromet.firth.firth_cox (tests/test_firth.py). coxphf is not among Debian's R packages: it is
# built from its CRAN source (github.com/cran/coxphf, tag 1.13.4) with `R CMD INSTALL` (needs
# gfortran, r-cran-generics, r-cran-tibble). Run from this folder:
#   Rscript make_firth.R      (writes the fixture CSVs and firth_reference.json, 17 digits)
# Every fit is made twice: with coxphf's defaults (convergence 1e-6 / score 1e-4) and with
# tight convergence (epsilon = 1e-12, gconv = 1e-10, maxit = 1000), so that the reference is the
# maximum itself and not where the default stopping rule happened to stop.
suppressPackageStartupMessages({library(survival); library(coxphf)})
stopifnot(packageVersion("coxphf") == "1.13.4")
num <- function(v) ifelse(is.na(v), "null", ifelse(is.finite(v), sprintf("%.17g", v), '"Inf"'))
arr <- function(v) paste0("[", paste(num(v), collapse = ", "), "]")
strs <- function(v) paste0("[", paste0('"', v, '"', collapse = ", "), "]")

# 1. coxphf's own example (its breast data, 100 patients, continuous times)
data(breast, package = "coxphf")
write.csv(breast, "breast.csv", row.names = FALSE)

# 2. binary separation: no events among x1 = 1 (monthly times, ties)
set.seed(20261201)
n <- 80
sep <- data.frame(x1 = rbinom(n, 1, 0.3), x2 = round(rnorm(n), 3))
sep$time <- ceiling(rexp(n, 0.05 * exp(0.5 * sep$x2)))
sep$status <- rbinom(n, 1, 0.7)
sep$status[sep$x1 == 1] <- 0L
write.csv(sep, "separation_binary.csv", row.names = FALSE)

# 3. separation by a combination (the ER / subtype configuration of study A's Table 4): HR+ means
# ER+ or PR+, so ER+ tumours are never HR-; the few ER-/PR+ tumours (ER negative, HR+ subtype)
# have no events. No single term separates; er[Positive] together with the two HR- subtype terms
# does, along a direction on which ER-/PR+ patients lie lowest.
set.seed(1201)
n <- 150
sub <- sample(c("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"), n, TRUE,
              prob = c(0.6, 0.15, 0.1, 0.15))
er <- ifelse(grepl("HR-", sub), "Negative", "Positive")
erneg_hrpos <- which(er == "Positive")[1:4]
er[erneg_hrpos] <- "Negative"                       # 4 ER-/PR+ tumours
age <- round(rnorm(n, 60, 10))
lp <- 0.03 * (age - 60) + ifelse(grepl("HR-", sub), 0.9, 0) + ifelse(er == "Positive", -0.3, 0)
time <- ceiling(rexp(n, 0.02 * exp(lp)))
status <- rbinom(n, 1, 0.6)
status[erneg_hrpos] <- 0L
comb <- data.frame(age = age, er = er, subtype = sub, time = pmin(time, 60L),
                   status = ifelse(time > 60, 0L, status))
write.csv(comb, "separation_combination.csv", row.names = FALSE)

# 4. coxphf's 3-patient example (every event has the largest x of its risk set)
tiny <- data.frame(time = c(1, 2, 3), cens = c(1, 1, 1), x = c(1, 1, 0))
write.csv(tiny, "tiny.csv", row.names = FALSE)

# 5. SEER-like: monthly times with deaths in month 0 and a rare level (2 patients, no event).
# coxphf 1.13.4 returns NaN when a time is 0 (its risk sets are t1 < t - 1e-5 <= t2 with t1 = 0),
# so R is given time + 0.5: the same order of times, the same partial likelihood.
set.seed(2018)
n <- 600
monthly <- data.frame(age = round(rnorm(n, 62, 12)), grade = sample(c("I-II", "III"), n, TRUE,
                      prob = c(0.7, 0.3)), rare = c(rep("yes", 2), rep("no", n - 2)))
lp <- 0.05 * (monthly$age - 62) + 0.7 * (monthly$grade == "III")
monthly$months <- pmin(floor(rexp(n, 0.01 * exp(lp))), 59)
monthly$dead <- rbinom(n, 1, 0.5)
monthly$dead[monthly$rare == "yes"] <- 0L
monthly$months[1:12] <- 0                               # month-0 rows, some of them deaths
write.csv(monthly, "monthly.csv", row.names = FALSE)
monthly$months_r <- monthly$months + 0.5
monthly$rare <- factor(monthly$rare, c("no", "yes"))

cases <- list(
  list(name = "breast", file = "breast.csv", data = breast,
       formula = Surv(TIME, CENS) ~ T + N + G + CD),
  list(name = "separation_binary", file = "separation_binary.csv", data = sep,
       formula = Surv(time, status) ~ x1 + x2),
  list(name = "separation_combination", file = "separation_combination.csv",
       data = transform(comb, er = factor(er, c("Negative", "Positive")),
                        subtype = factor(subtype, c("HR+/HER2-", "HR+/HER2+", "HR-/HER2+",
                                                    "HR-/HER2-"))),
       formula = Surv(time, status) ~ age + er + subtype),
  list(name = "tiny", file = "tiny.csv", data = tiny, formula = Surv(time, cens) ~ x),
  list(name = "monthly", file = "monthly.csv", data = monthly,
       formula = Surv(months_r, dead) ~ age + grade + rare)
)
out <- c()
for (cs in cases) {
  for (setting in c("default", "tight")) {
    args <- list(formula = cs$formula, data = cs$data)
    if (setting == "tight") args <- c(args, list(epsilon = 1e-12, gconv = 1e-10, maxit = 1000))
    for (pl in c(TRUE, FALSE)) {
      f <- do.call(coxphf, c(args, list(pl = pl)))
      key <- paste0(cs$name, "/", setting, "/", if (pl) "profile" else "wald")
      out <- c(out, paste0(
        '"', key, '": {"file": "', cs$file, '", "formula": "', deparse(cs$formula),
        '", "terms": ', strs(names(coef(f))),
        ', "coef": ', arr(coef(f)), ', "se": ', arr(sqrt(diag(f$var))),
        ', "lower": ', arr(f$ci.lower), ', "upper": ', arr(f$ci.upper),
        ', "p": ', arr(f$prob), ', "loglik": ', arr(f$loglik),
        ', "iter": ', num(f$iter), '}'))
    }
  }
  # ordinary Cox (Breslow) for contrast: does it diverge?
  g <- suppressWarnings(coxph(cs$formula, data = cs$data, ties = "breslow"))
  out <- c(out, paste0('"', cs$name, '/coxph_breslow": {"coef": ', arr(coef(g)), '}'))
}
writeLines(c("{", paste0("  ", out, collapse = ",\n"), paste0('  ,"_versions": {"R": "',
             R.version.string, '", "coxphf": "', packageVersion("coxphf"), '", "survival": "',
             packageVersion("survival"), '"}'), "}"), "firth_reference.json")
