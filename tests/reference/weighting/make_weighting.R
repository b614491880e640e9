# Reference outputs of R 4.2.2 / survival 3.5-3 for micromet.weighting and the weighted models
# (tests/test_weighting.py). Run from this folder:  Rscript make_weighting.R
# Writes small.csv and large.csv (simulated data: monthly times with heavy ties, a continuous
# covariate, two factors, a binary exposure, causes 0/1/2) and weighting_reference.json (17
# significant digits). cobalt is not packaged for Debian, so the balance statistics are written
# here from cobalt's documented definitions (vignette "faq": the standardization factor is the
# UNWEIGHTED SD of the treated group, or sqrt of the mean of the two groups' unweighted
# variances for "pooled"; n - 1 for continuous variables, sqrt(p (1 - p)) for binary ones; the
# weighted means are sum(w x) / sum(w) per group).
suppressPackageStartupMessages({
  library(survival)
})
stopifnot(packageVersion("survival") == "3.5.3")

# JSON writer with 17 significant digits (as tests/reference/survival/make_survival.R)
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

simulate <- function(n) {
  age <- round(rnorm(n, 60, 11))
  size <- round(rexp(n, 1 / 22)) + 1
  grade <- factor(sample(c("I-II", "III"), n, TRUE, prob = c(0.6, 0.4)))
  subtype <- factor(sample(c("A", "B", "C"), n, TRUE, prob = c(0.6, 0.25, 0.15)))
  # a strong propensity model, so that ATT weights of controls run from about 0.01 to 10
  lp_t <- -1.3 + 0.05 * (age - 60) + 1.1 * (grade == "III") +
    c(0, 0.8, -0.6)[as.integer(subtype)] + 0.015 * size
  treat <- rbinom(n, 1, plogis(lp_t))
  lp1 <- 0.02 * (age - 60) + 0.6 * (grade == "III") + c(0, 0.3, 0.7)[as.integer(subtype)] +
    0.3 * treat
  lp2 <- 0.05 * (age - 60) - 0.2 * treat
  t1 <- rexp(n, 0.010 * exp(lp1))
  t2 <- rexp(n, 0.008 * exp(lp2))
  cens <- runif(n, 6, 90)
  t <- pmin(t1, t2, cens)
  event <- ifelse(t == t1, 1L, ifelse(t == t2, 2L, 0L))
  time <- ceiling(t)  # whole months: events and censorings tie
  d <- data.frame(id = seq_len(n), time, event, status = as.integer(event != 0), age, size,
                  grade, subtype, treat)
  fit <- glm(treat ~ age + size + grade + subtype, family = binomial, data = d)
  ps <- unname(fitted(fit))
  d$w_att <- ifelse(d$treat == 1, 1, ps / (1 - ps))
  d$w_ato <- ifelse(d$treat == 1, 1 - ps, ps)
  d$w_case <- round(runif(n, 0.05, 6), 4)  # arbitrary case weights far from 1
  list(data = d, ps = ps, glm_coef = unname(coef(fit)))
}

balance <- function(d, w, denom) {
  # cobalt-style covariates: numeric as is; a 2-level factor as its second level; a factor with
  # more levels as one dummy per level
  X <- list(age = d$age, size = d$size, "grade[III]" = as.numeric(d$grade == "III"),
            "subtype[A]" = as.numeric(d$subtype == "A"),
            "subtype[B]" = as.numeric(d$subtype == "B"),
            "subtype[C]" = as.numeric(d$subtype == "C"))
  tr <- d$treat == 1
  out <- list()
  for (nm in names(X)) {
    x <- X[[nm]]
    binary <- all(x %in% c(0, 1))
    v1 <- if (binary) mean(x[tr]) * (1 - mean(x[tr])) else var(x[tr])
    v0 <- if (binary) mean(x[!tr]) * (1 - mean(x[!tr])) else var(x[!tr])
    s <- if (denom == "treated") sqrt(v1) else sqrt((v1 + v0) / 2)
    m1 <- sum(w[tr] * x[tr]) / sum(w[tr])
    m0 <- sum(w[!tr] * x[!tr]) / sum(w[!tr])
    out[[nm]] <- list(binary = binary, mean_treated = m1, mean_control = m0,
                      diff = m1 - m0, sd_denominator = s, smd = (m1 - m0) / s,
                      smd_unadjusted = (mean(x[tr]) - mean(x[!tr])) / s)
  }
  out
}

coxinfo <- function(fit) {
  s <- summary(fit)$coefficients
  list(terms = rownames(s), coef = unname(coef(fit)), se = unname(s[, "se(coef)"]),
       robust_se = unname(s[, "robust se"]), p = unname(s[, "Pr(>|z|)"]),
       loglik = unname(fit$loglik), iter = fit$iter, n = fit$n, nevent = fit$nevent)
}

one_set <- function(sim, file) {
  d <- sim$data
  d$set <- rep(seq_len(ceiling(nrow(d) / 3)), each = 3)[seq_len(nrow(d))]  # clusters of 3
  write.csv(d, file, row.names = FALSE)
  d <- read.csv(file, stringsAsFactors = TRUE)
  ref <- list(ps = sim$ps, glm_coef = sim$glm_coef)
  ref$balance_att <- balance(d, d$w_att, "treated")
  ref$balance_ato <- balance(d, d$w_ato, "pooled")
  f_cox <- Surv(time, status) ~ treat + age + grade + subtype
  ref$cox_att <- coxinfo(coxph(f_cox, data = d, weights = w_att, robust = TRUE))
  ref$cox_ato <- coxinfo(coxph(f_cox, data = d, weights = w_ato, robust = TRUE))
  ref$cox_case_breslow <- coxinfo(coxph(f_cox, data = d, weights = w_case, robust = TRUE,
                                        ties = "breslow"))
  ref$cox_att_cluster <- coxinfo(coxph(f_cox, data = d, weights = w_att, cluster = set))
  ref$cox_att_treat <- coxinfo(coxph(Surv(time, status) ~ treat, data = d, weights = w_att,
                                     robust = TRUE))
  # Fine-Gray by survival's finegray() expansion, then a weighted, id-clustered coxph
  d$fstatus <- factor(d$event, 0:2, c("censor", "bc", "other"))
  keep <- d[, c("id", "set", "time", "fstatus", "treat", "age", "size", "grade", "subtype",
                "w_att", "w_ato", "w_case")]
  fg <- finegray(Surv(time, fstatus) ~ ., data = keep, etype = "bc")
  ref$finegray_rows <- nrow(fg)
  f_fg <- Surv(fgstart, fgstop, fgstatus) ~ treat + age + grade + subtype
  ref$fg_att <- coxinfo(coxph(f_fg, data = fg, weights = fgwt * w_att, cluster = id))
  ref$fg_ato <- coxinfo(coxph(f_fg, data = fg, weights = fgwt * w_ato, cluster = id))
  ref$fg_case <- coxinfo(coxph(f_fg, data = fg, weights = fgwt * w_case, cluster = id))
  ref$fg_att_breslow <- coxinfo(coxph(f_fg, data = fg, weights = fgwt * w_att, cluster = id,
                                      ties = "breslow"))
  ref$fg_att_cluster <- coxinfo(coxph(f_fg, data = fg, weights = fgwt * w_att, cluster = set))
  ref$fg_unweighted <- coxinfo(coxph(f_fg, data = fg, weights = fgwt, cluster = id))
  ref$fg_att_treat <- coxinfo(coxph(Surv(fgstart, fgstop, fgstatus) ~ treat, data = fg,
                                    weights = fgwt * w_att, cluster = id))
  # the same model through finegray(weights = ): fgwt then already carries the case weight
  fgw <- finegray(Surv(time, fstatus) ~ ., data = keep, etype = "bc", weights = w_att)
  ref$fg_att_via_finegray_weights <- coxinfo(coxph(f_fg, data = fgw, weights = fgwt,
                                                   cluster = id))
  ref
}

set.seed(20261201)
small <- simulate(300)
large <- simulate(2000)
out <- list(small = one_set(small, "small.csv"), large = one_set(large, "large.csv"))
writeLines(to_json(out), "weighting_reference.json")
