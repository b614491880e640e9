# Reference outputs of survival 3.5-3 for micromet.survival (tests/test_survival*.py).
# Run from this folder:  Rscript make_survival.R
# Writes survival_data.csv (the simulated data) and survival_reference.json (17 significant digits,
# length-1 vectors written as scalars).
suppressPackageStartupMessages({
  library(survival)
})

# JSON writer with 17 significant digits (jsonlite stops at 15); length-1 vectors are scalars.
to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (is.list(x)) {
    parts <- vapply(x, to_json, "", indent = inner)
    if (!is.null(names(x))) {
      parts <- paste0('"', names(x), '": ', parts)
      return(paste0("{\n", inner, paste(parts, collapse = paste0(",\n", inner)), "\n",
                    indent, "}"))
    }
    return(paste0("[", paste(parts, collapse = ", "), "]"))
  }
  if (is.factor(x)) x <- as.character(x)
  one <- function(v) {
    if (is.na(v)) return("null")
    if (is.character(v)) return(paste0('"', gsub('"', '\\\\"', v), '"'))
    if (is.logical(v)) return(if (v) "true" else "false")
    if (!is.finite(v)) return(if (v > 0) '"Inf"' else '"-Inf"')
    sprintf("%.17g", v)
  }
  vals <- vapply(seq_along(x), function(i) one(x[[i]]), "")
  if (length(x) == 1) vals else paste0("[", paste(vals, collapse = ", "), "]")
}
stopifnot(packageVersion("survival") == "3.5.3")

set.seed(20261121)
n <- 420
age <- round(rnorm(n, 60, 10))
size <- round(rexp(n, 1 / 20)) + 1
grade <- factor(sample(c("I-II", "III"), n, TRUE, prob = c(0.65, 0.35)))
subtype <- factor(sample(c("A", "B", "C", "D"), n, TRUE, prob = c(0.5, 0.2, 0.1, 0.2)))
group <- factor(sample(c("M0", "M0(i+)"), n, TRUE, prob = c(0.67, 0.33)))
st <- factor(sample(c("s1", "s2"), n, TRUE))
set <- rep(seq_len(ceiling(n / 3)), each = 3)[seq_len(n)]
w <- round(runif(n, 0.4, 2.5), 6)            # non-integer case weights
wi <- sample(1:3, n, TRUE)                    # integer case weights
lp <- 0.035 * (age - 60) + 0.015 * size + 0.6 * (grade == "III") +
  c(0, 0.4, 0.8, -0.3)[as.integer(subtype)] + 0.2 * (group == "M0(i+)")
tev <- rexp(n, 0.012 * exp(lp))
tcens <- runif(n, 3, 75)
time_c <- pmin(tev, tcens)                     # continuous times
status <- as.integer(tev <= tcens)
cause <- ifelse(status == 1, sample(1:2, n, TRUE), 0L)  # 0/1/2: any non-zero is an event
time <- pmin(ceiling(time_c), 60)              # integer months, heavy ties
status[time_c > 60] <- 0L
cause[time_c > 60] <- 0L
# near-equal continuous times (timefix must merge them)
time_c[2] <- time_c[1] + 1e-13
d <- data.frame(id = seq_len(n), time, time_c, status, cause, age, size, grade, subtype, group,
                st, set, w, wi)
write.csv(d, "survival_data.csv", row.names = FALSE)
d <- read.csv("survival_data.csv", stringsAsFactors = TRUE)

fitinfo <- function(fit) {
  out <- list(
    terms = names(coef(fit)),
    coef = unname(coef(fit)),
    se = unname(sqrt(diag(vcov(fit)))),
    loglik = unname(fit$loglik),
    iter = fit$iter,
    n = fit$n,
    nevent = fit$nevent,
    robust = !is.null(fit$naive.var)
  )
  if (!is.null(fit$naive.var)) out$naive_se <- unname(sqrt(diag(fit$naive.var)))
  out
}
S <- Surv(d$time, d$status)
f_full <- ~ age + size + grade + subtype + group
ref <- list()
cx <- list()
cx$efron <- fitinfo(coxph(Surv(time, status) ~ age + size + grade + subtype + group, data = d))
cx$breslow <- fitinfo(coxph(Surv(time, status) ~ age + size + grade + subtype + group, data = d,
                            ties = "breslow"))
cx$efron_cause <- fitinfo(coxph(Surv(time, cause != 0) ~ age + grade + group, data = d))
cx$continuous <- fitinfo(coxph(Surv(time_c, status) ~ age + size + grade + group, data = d))
cx$age_only <- fitinfo(coxph(Surv(time, status) ~ age, data = d))
cx$subtype_only <- fitinfo(coxph(Surv(time, status) ~ subtype, data = d))
cx$weights <- fitinfo(coxph(Surv(time, status) ~ age + grade + group, data = d, weights = w))
cx$weights_int <- fitinfo(coxph(Surv(time, status) ~ age + grade + group, data = d,
                                weights = wi))
cx$weights_breslow <- fitinfo(coxph(Surv(time, status) ~ age + grade + group, data = d,
                                    weights = w, ties = "breslow"))
cx$cluster <- fitinfo(coxph(Surv(time, status) ~ age + size + grade + group, data = d,
                            cluster = set))
cx$cluster_breslow <- fitinfo(coxph(Surv(time, status) ~ age + size + grade + group, data = d,
                                    cluster = set, ties = "breslow"))
cx$robust_rows <- fitinfo(coxph(Surv(time, status) ~ age + grade + group, data = d,
                                robust = TRUE))
cx$strata <- fitinfo(coxph(Surv(time, status) ~ age + size + grade + group + strata(st), data = d))
cx$strata_cluster_weights <- fitinfo(coxph(Surv(time, status) ~ age + size + grade + group +
                                             strata(st), data = d, weights = w, cluster = set))
cx$matched_strata <- fitinfo(coxph(Surv(time, status) ~ age + grade + group + strata(set),
                                   data = d))
ref$cox <- cx

sd_info <- function(x) {
  list(chisq = x$chisq, df = length(x$n) - 1, n = unname(as.vector(x$n)),
       obs = unname(as.vector(rowSums(as.matrix(x$obs)))),
       exp = unname(as.vector(rowSums(as.matrix(x$exp)))),
       var = unname(as.vector(x$var)),
       p = pchisq(x$chisq, length(x$n) - 1, lower.tail = FALSE))
}
lr <- list()
lr$group <- sd_info(survdiff(Surv(time, status) ~ group, data = d))
lr$subtype <- sd_info(survdiff(Surv(time, status) ~ subtype, data = d))
lr$grade_strata <- sd_info(survdiff(Surv(time, status) ~ grade + strata(st), data = d))
lr$subtype_rho1 <- sd_info(survdiff(Surv(time, status) ~ subtype, data = d, rho = 1))
lr$group_cause <- sd_info(survdiff(Surv(time, cause > 0) ~ group, data = d))
lr$group_continuous <- sd_info(survdiff(Surv(time_c, status) ~ group, data = d))
ref$survdiff <- lr

zph_info <- function(z) list(rows = rownames(z$table), chisq = unname(z$table[, "chisq"]),
                             df = unname(z$table[, "df"]), p = unname(z$table[, "p"]))
fit_z <- coxph(Surv(time, status) ~ age + size + grade + subtype + group, data = d)
zp <- list()
zp$km <- zph_info(cox.zph(fit_z, transform = "km"))
zp$identity <- zph_info(cox.zph(fit_z, transform = "identity"))
zp$km_breslow <- zph_info(cox.zph(coxph(Surv(time, status) ~ age + grade + group, data = d,
                                        ties = "breslow"), transform = "km"))
zp$km_strata_weights <- zph_info(cox.zph(coxph(Surv(time, status) ~ age + grade + group +
                                                  strata(st), data = d, weights = as.numeric(wi))))
zp$km_continuous <- zph_info(cox.zph(coxph(Surv(time_c, status) ~ age + size + group,
                                           data = d)))
ref$zph <- zp

sf <- survfit(Surv(time, status) ~ group, data = d)
strata_of <- rep(sub("group=", "", names(sf$strata)), sf$strata)
km <- list(group = strata_of, time = sf$time, n_risk = sf$n.risk, n_event = sf$n.event,
           n_censor = sf$n.censor, surv = sf$surv, std_err = sf$std.err,
           lower = sf$lower, upper = sf$upper, conf_type = sf$conf.type)
ss <- summary(sf, times = c(0.5, 12, 36, 60))
km$at <- list(group = sub("group=", "", as.character(ss$strata)), time = ss$time,
              n_risk = ss$n.risk, n_event = ss$n.event, surv = ss$surv, std_err = ss$std.err,
              lower = ss$lower, upper = ss$upper)
ref$km <- km
rev <- survfit(Surv(time, status == 0) ~ 1, data = d)
ref$followup <- list(quantile = unname(quantile(rev, c(0.25, 0.5, 0.75))$quantile),
                     max = max(d$time))
# a curve that is exactly 0.5 on a flat stretch: survfit's median is the midpoint
tiny <- data.frame(t = c(1, 2, 3, 4, 5, 6), s = c(1, 1, 1, 0, 1, 0))
ref$quantile_flat <- list(time = tiny$t, status = tiny$s,
                          quantile = unname(quantile(survfit(Surv(t, s) ~ 1, data = tiny),
                                                     c(0.25, 0.5, 0.75))$quantile))

writeLines(to_json(ref), "survival_reference.json")
