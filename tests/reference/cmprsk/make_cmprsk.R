# Fixtures for micromet's competing-risks tests: cmprsk::cuminc / timepoints / Gray's test and
# cmprsk::crr on several small simulated data sets (heavy ties with times at 0, no censoring,
# three causes, K = 3 groups with strata and rho != 0, a categorical covariate, a singular Gray
# variance, strong effects, monthly times).
# Run from this folder:  Rscript make_cmprsk.R   (writes fixtures_*.csv and fixtures.json)
# R 4.2.2, cmprsk 2.2-11 (Debian). Numbers are written with 17 significant digits.
suppressMessages({library(cmprsk); library(jsonlite)})

sim <- function(n, seed, ncause = 2, cens = TRUE, round_to = 0, K = 1, nstrata = 1,
                strong = FALSE, monthly = FALSE) {
  set.seed(seed)
  x1 <- round(rnorm(n, 0, if (strong) 2 else 1), 3)
  x2 <- rbinom(n, 1, 0.5)
  stage <- factor(sample(c("I", "II", "III"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2)))
  grp <- sample(seq_len(K), n, replace = TRUE) - 1
  stratum <- sample(c("a", "b", "c")[seq_len(nstrata)], n, replace = TRUE)
  b1 <- if (strong) 1.2 else 0.6
  lp1 <- b1 * x1 - 0.5 * x2 + 0.4 * (stage == "II") + 0.8 * (stage == "III") + 0.3 * grp
  tt <- sapply(seq_len(ncause), function(k) {
    rate <- c(0.10, 0.08, 0.05)[k] * exp(if (k == 1) lp1 else (-0.3 * x1 + 0.4 * x2))
    rexp(n, rate)
  })
  if (!is.matrix(tt)) tt <- matrix(tt, ncol = ncause)
  ft <- apply(tt, 1, min)
  fs <- apply(tt, 1, which.min)
  if (cens) {
    ct <- runif(n, 0, if (monthly) 80 else 15)
    fs[ct < ft] <- 0
    ft <- pmin(ft, ct)
  }
  if (monthly) {
    ft <- pmin(floor(ft * 4), 59)   # months 0-59; administrative censoring at 59
    fs[ft == 59 & fs != 0 & runif(n) < 0.5] <- 0
  } else if (round_to > 0) {
    ft <- ceiling(ft / round_to) * round_to
  }
  data.frame(id = seq_len(n), ftime = ft, fstatus = fs, x1 = x1, x2 = x2,
             stage = as.character(stage), grp = grp, stratum = stratum)
}

datasets <- list(
  ties = sim(300, 101, round_to = 1, K = 3),
  nocens = sim(150, 102, cens = FALSE),
  three_causes = sim(250, 103, ncause = 3, round_to = 0.25, K = 2),
  strata = sim(400, 104, round_to = 0.5, K = 3, nstrata = 3),
  strong = sim(200, 105, strong = TRUE, K = 2),
  monthly = sim(1500, 106, monthly = TRUE, K = 2, nstrata = 2)
)
# heavy ties with events and censorings at time 0 (floor instead of ceiling)
datasets$ties$ftime <- floor(datasets$ties$ftime * 0.8)
# singular Gray variance: group 2 is censored before the first failure
sg <- sim(120, 107, round_to = 0.5, K = 3)
sg$ftime[sg$grp == 2] <- 0.1
sg$fstatus[sg$grp == 2] <- 0
datasets$singular <- sg


crr_fit <- function(d, cov, failcode, path = TRUE, init = rep(0, ncol(cov))) {
  fit <- crr(d$ftime, d$fstatus, cov1 = cov, failcode = failcode, cencode = 0, init = init)
  out <- list(
    terms = colnames(cov), coef = unname(fit$coef), se = unname(sqrt(diag(fit$var))),
    var = unname(fit$var), inf = unname(fit$inf), score = unname(fit$score),
    loglik = fit$loglik, loglik_null = fit$loglik.null, converged = fit$converged,
    uftime = fit$uftime, bfitj = fit$bfitj,
    p_value_raw = unname(2 * (1 - pnorm(abs(fit$coef) / sqrt(diag(fit$var)))))
  )
  z0 <- rbind(rep(0, ncol(cov)), colMeans(cov), apply(cov, 2, max))
  pr <- predict(fit, cov1 = z0)
  out$predict_newdata <- unname(z0)
  out$predict_cif <- unname(pr[, -1, drop = FALSE])
  if (path) {
    out$newton_path <- lapply(0:6, function(k) {
      f <- suppressWarnings(crr(d$ftime, d$fstatus, cov1 = cov, failcode = failcode,
                                cencode = 0, maxiter = k, variance = FALSE, init = init))
      list(maxiter = k, coef = unname(f$coef), converged = f$converged, loglik = f$loglik)
    })
  }
  out
}

cuminc_fit <- function(d, group = NULL, strata = NULL, rho = 0, times = NULL) {
  args <- list(ftime = d$ftime, fstatus = d$fstatus, cencode = 0, rho = rho)
  if (!is.null(group)) args$group <- d[[group]]
  if (!is.null(strata)) args$strata <- d[[strata]]
  ci <- do.call(cuminc, args)
  tests <- ci$Tests
  curves <- ci[names(ci) != "Tests"]
  out <- list(curves = lapply(curves, function(cc) list(time = cc$time, est = cc$est, var = cc$var)))
  if (!is.null(tests)) {
    out$tests <- list(cause = rownames(tests), stat = unname(tests[, "stat"]),
                      pv = unname(tests[, "pv"]), df = unname(tests[, "df"]))
  }
  if (!is.null(times)) {
    tp <- timepoints(ci, times)
    out$timepoints <- list(times = times, rownames = rownames(tp$est),
                           est = unname(tp$est), var = unname(tp$var))
  }
  out
}

res <- list(R_version = R.version.string, cmprsk_version = as.character(packageVersion("cmprsk")))
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  out <- d  # full precision in the CSV too (write.csv keeps only 15 significant digits)
  for (v in c("ftime", "x1")) out[[v]] <- sprintf("%.17g", out[[v]])
  write.csv(out, sprintf("fixtures_%s.csv", nm), row.names = FALSE, quote = FALSE)
  times <- c(-1, 0, 0.5, 1, 2.5, 5, 7.5, 10, 12, 20, 40, 59, 100)
  r <- list(n = nrow(d), counts = as.list(table(d$fstatus)))
  r$cuminc_overall <- cuminc_fit(d, times = times)
  if (length(unique(d$grp)) > 1) {
    r$cuminc_grp <- cuminc_fit(d, group = "grp", times = times)
    r$gray_x2 <- cuminc_fit(d, group = "x2")$tests
  }
  if (length(unique(d$stratum)) > 1) {
    r$gray_grp_strata <- cuminc_fit(d, group = "grp", strata = "stratum")$tests
    r$gray_grp_strata_rho1 <- cuminc_fit(d, group = "grp", strata = "stratum", rho = 1)$tests
    r$gray_grp_rho_m05 <- cuminc_fit(d, group = "grp", rho = -0.5)$tests
  }
  cov <- cbind(x1 = d$x1, x2 = d$x2)
  causes <- sort(unique(d$fstatus[d$fstatus != 0]))
  r$crr <- list()
  for (k in causes) r$crr[[paste0("cause", k)]] <- crr_fit(d, cov, k, path = (nm %in% c("ties", "strong", "monthly")))
  # categorical covariate: stage with reference I (treatment contrasts, as micromet)
  covc <- model.matrix(~ x1 + stage + x2, data = d)[, -1, drop = FALSE]
  r$crr_stage <- crr_fit(d, covc, 1, path = FALSE)
  # a start far from the optimum: Newton overshoots and crr halves its steps (Armijo)
  r$crr_init <- crr_fit(d, cov, 1, path = TRUE, init = c(3, 3))
  r$crr_init$init <- c(3, 3)
  res[[nm]] <- r
}
# jsonlite stops at 15 significant digits, so numbers are written here with sprintf("%.17g").
num_json <- function(x) {
  s <- ifelse(is.na(x), "null", ifelse(is.infinite(x), ifelse(x > 0, "1e999", "-1e999"),
                                       sprintf("%.17g", x)))
  if (length(x) == 1 && is.null(dim(x))) s else paste0("[", paste(s, collapse = ","), "]")
}
to_json <- function(x) {
  if (is.matrix(x)) {
    return(paste0("[", paste(apply(x, 1, function(r) num_json(as.numeric(r))), collapse = ","), "]"))
  }
  if (is.list(x)) {
    if (is.null(names(x))) return(paste0("[", paste(sapply(x, to_json), collapse = ",\n"), "]"))
    keys <- sapply(names(x), function(n) toJSON(n, auto_unbox = TRUE))
    return(paste0("{", paste(sprintf("%s: %s", keys, sapply(x, to_json)), collapse = ",\n"), "}"))
  }
  if (is.logical(x)) return(if (length(x) == 1) tolower(as.character(x)) else
    paste0("[", paste(tolower(as.character(x)), collapse = ","), "]"))
  if (is.numeric(x)) return(num_json(x))
  if (length(x) == 1) toJSON(as.character(x), auto_unbox = TRUE) else toJSON(as.character(x))
}
writeLines(to_json(res), "fixtures.json")
