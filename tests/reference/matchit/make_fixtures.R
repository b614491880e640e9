# Fixtures for tests/test_matching_fixtures.py, made with the R installed here:
# R 4.2.2, Debian's MatchIt 4.5.1 (which carries the integer-abs caliper bug, METHODS.md 1.5).
#   Rscript tests/reference/matchit/make_fixtures.R   (run from the repository root)
# Writes tests/reference/matchit/fixtures.json (numbers with 17 significant digits).
#
# Two families of cases:
# * "int_*": a supplied distance with integer values only. Every difference is an integer, so
#   the integer abs() of 4.5.1 equals the exact abs(): these outcomes are those of CRAN
#   MatchIt >= 4.5.4 too, and test the exact mode (heavy exact ties: tie rules of METHODS 1.4).
# * replace = TRUE with ratio > 1 (int_r3_replace_cal, glm_r2_replace_cal): 4.5.1 has a second
#   bug there (the same control repeated in a treated unit's row, kosukeimai/MatchIt#159, fixed
#   after 4.5.1); only the first round, which that bug does not touch, is compared.
# * "glm_*": distance from glm (linear.logit or logit). Here 4.5.1's bug changes the matches,
#   so these are compared with micromet's abs_mode = "int_trunc" emulation (and the propensity
#   fit and the summary() formulas, which the bug does not touch, with the default code).
suppressPackageStartupMessages(library(MatchIt))
stopifnot(packageVersion("MatchIt") == "4.5.1")

num <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
str <- function(x) ifelse(is.na(x), "null", paste0('"', x, '"'))
arr <- function(v) paste0("[", paste(v, collapse = ","), "]")
obj <- function(l) paste0("{", paste(paste0('"', names(l), '":', unlist(l)), collapse = ","), "}")

summ_json <- function(tab) {
  rows <- lapply(seq_len(nrow(tab)), function(i) {
    vals <- tab[i, ]
    obj(c(list(row = str(rownames(tab)[i])),
          setNames(lapply(vals, num), colnames(tab))))
  })
  arr(unlist(rows))
}

case_json <- function(name, m, family, args) {
  s <- summary(m)
  mm <- m$match.matrix
  mm_rows <- vapply(seq_len(nrow(mm)), function(i)
    obj(list(treated = str(rownames(mm)[i]), controls = arr(str(mm[i, ])))), "")
  nn <- s$nn
  fields <- list(
    name = str(name), family = str(family), args = str(args),
    caliper = if (is.null(m$caliper)) "null" else num(unname(m$caliper)),
    distance = arr(num(unname(m$distance))),
    weights = arr(num(unname(m$weights))),
    subclass = if (is.null(m$subclass)) "null" else arr(str(as.character(m$subclass))),
    match_matrix = arr(mm_rows),
    summary_all = summ_json(s$sum.all),
    summary_matched = summ_json(s$sum.matched),
    nn = obj(list(rows = arr(str(rownames(nn))), Control = arr(num(nn[, "Control"])),
                  Treated = arr(num(nn[, "Treated"]))))
  )
  if (!is.null(m$model)) {
    cf <- coef(m$model)
    fields$glm_coefficients <- obj(setNames(as.list(num(unname(cf))), names(cf)))
    fields$glm_iterations <- num(m$model$iter)
  }
  obj(fields)
}

# ---- data with integer distances -----------------------------------------------------------
set.seed(20240611)
n <- 240
treat_i <- rbinom(n, 1, 0.3)
d_i <- pmin(15, pmax(0, round(rnorm(n, mean = ifelse(treat_i == 1, 9, 6), sd = 3))))
x_i <- round(rnorm(n, d_i, 2), 1)
g_i <- sample(c("p", "q"), n, replace = TRUE)
dat_i <- data.frame(id = sprintf("u%03d", seq_len(n)), treat = treat_i, dist = d_i, x = x_i,
                    g = g_i)
rownames(dat_i) <- dat_i$id
# a small data set with too few controls for ratio 2 (the pool runs out)
set.seed(7)
n2 <- 70
treat_s <- c(rep(1, 30), rep(0, 40))[sample(n2)]
d_s <- round(runif(n2, 0, 10))
dat_s <- data.frame(id = sprintf("s%02d", seq_len(n2)), treat = treat_s, dist = d_s,
                    x = round(rnorm(n2), 2))
rownames(dat_s) <- dat_s$id

# ---- data for glm ---------------------------------------------------------------------------
set.seed(99)
n3 <- 400
x1 <- round(rnorm(n3), 1)
x2 <- rbinom(n3, 1, 0.4)
x3 <- sample(c("a", "b", "c"), n3, replace = TRUE, prob = c(0.5, 0.3, 0.2))
x4 <- sample(seq(30, 80, by = 10), n3, replace = TRUE)
lp <- -1 + 0.8 * x1 + 0.7 * x2 + ifelse(x3 == "b", -0.6, ifelse(x3 == "c", 0.9, 0)) +
  0.02 * (x4 - 50)
treat_g <- rbinom(n3, 1, plogis(lp))
dat_g <- data.frame(id = sprintf("g%03d", seq_len(n3)), treat = treat_g, x1 = x1, x2 = x2,
                    x3 = x3, x4 = x4)
rownames(dat_g) <- dat_g$id
f_g <- treat ~ x1 + x2 + x3 + x4

# ---- aliased terms: her2 is a linear combination of the subtype dummies (as in study A) --------
set.seed(5)
n4 <- 300
er <- sample(c("Negative", "Positive"), n4, replace = TRUE, prob = c(0.3, 0.7))
her2 <- sample(c("Negative", "Positive"), n4, replace = TRUE, prob = c(0.7, 0.3))
subtype <- factor(paste0(ifelse(er == "Positive", "HR+", "HR-"), "/HER2",
                         ifelse(her2 == "Positive", "+", "-")),
                  levels = c("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"))
age <- round(rnorm(n4, 60, 10))
treat_a <- rbinom(n4, 1, plogis(-1 + 0.03 * (age - 60) + 0.8 * (her2 == "Positive")))
dat_a <- data.frame(id = sprintf("a%03d", seq_len(n4)), treat = treat_a, age = age,
                    her2 = her2, subtype = as.character(subtype))
rownames(dat_a) <- dat_a$id
dat_a_r <- dat_a
dat_a_r$subtype <- subtype

cases <- character(0)
add <- function(name, m, family, args) cases <<- c(cases, case_json(name, m, family, args))
mi <- function(...) suppressWarnings(matchit(...))

di <- dat_i$dist
add("int_r1", mi(treat ~ x + g, dat_i, distance = di, ratio = 1), "int", "ratio=1")
add("int_r2_cal2abs", mi(treat ~ x + g, dat_i, distance = di, ratio = 2, caliper = 2,
                         std.caliper = FALSE), "int", "ratio=2, caliper=2, std.caliper=FALSE")
add("int_r3_cal05", mi(treat ~ x + g, dat_i, distance = di, ratio = 3, caliper = 0.5),
    "int", "ratio=3, caliper=0.5")
add("int_r2_smallest", mi(treat ~ x + g, dat_i, distance = di, ratio = 2, caliper = 1,
                          std.caliper = FALSE, m.order = "smallest"),
    "int", "ratio=2, caliper=1, std.caliper=FALSE, m.order=smallest")
add("int_r2_data", mi(treat ~ x + g, dat_i, distance = di, ratio = 2, caliper = 1,
                      std.caliper = FALSE, m.order = "data"),
    "int", "ratio=2, caliper=1, std.caliper=FALSE, m.order=data")
add("int_r1_replace", mi(treat ~ x + g, dat_i, distance = di, ratio = 1, replace = TRUE),
    "int", "ratio=1, replace=TRUE")
add("int_r1_replace_cal", mi(treat ~ x + g, dat_i, distance = di, ratio = 1, replace = TRUE,
                             caliper = 1, std.caliper = FALSE),
    "int", "ratio=1, replace=TRUE, caliper=1, std.caliper=FALSE")
# replace = TRUE with ratio > 1: 4.5.1 matches the same control to a treated unit repeatedly
# (kosukeimai/MatchIt#159, fixed after 4.5.1); kept to document that difference.
add("int_r3_replace_cal", mi(treat ~ x + g, dat_i, distance = di, ratio = 3, replace = TRUE,
                             caliper = 1, std.caliper = FALSE),
    "int", "ratio=3, replace=TRUE, caliper=1, std.caliper=FALSE")
add("int_small_r2", mi(treat ~ x, dat_s, distance = dat_s$dist, ratio = 2), "int_small",
    "ratio=2 (30 treated, 40 controls)")

add("glm_r1", mi(f_g, dat_g, distance = "glm", link = "linear.logit"), "glm",
    "ratio=1, link=linear.logit")
add("glm_r2_cal", mi(f_g, dat_g, distance = "glm", link = "linear.logit", ratio = 2,
                     caliper = 0.2), "glm", "ratio=2, caliper=0.2, link=linear.logit")
add("glm_r3_cal", mi(f_g, dat_g, distance = "glm", link = "linear.logit", ratio = 3,
                     caliper = 0.5), "glm", "ratio=3, caliper=0.5, link=linear.logit")
add("glm_r2_prob_cal", mi(f_g, dat_g, distance = "glm", ratio = 2, caliper = 0.2), "glm",
    "ratio=2, caliper=0.2, link=logit (probability)")
add("glm_r2_smallest", mi(f_g, dat_g, distance = "glm", link = "linear.logit", ratio = 2,
                          caliper = 0.2, m.order = "smallest"), "glm",
    "ratio=2, caliper=0.2, m.order=smallest, link=linear.logit")
add("glm_r2_data", mi(f_g, dat_g, distance = "glm", link = "linear.logit", ratio = 2,
                      m.order = "data"), "glm", "ratio=2, m.order=data, link=linear.logit")
add("glm_r1_replace_cal", mi(f_g, dat_g, distance = "glm", link = "linear.logit", ratio = 1,
                             replace = TRUE, caliper = 0.2), "glm",
    "ratio=1, replace=TRUE, caliper=0.2, link=linear.logit")
add("glm_r2_replace_cal", mi(f_g, dat_g, distance = "glm", link = "linear.logit", ratio = 2,
                             replace = TRUE, caliper = 0.2), "glm",
    "ratio=2, replace=TRUE, caliper=0.2, link=linear.logit")

add("glm_aliased_r1", mi(treat ~ age + her2 + subtype, dat_a_r, distance = "glm",
                         link = "linear.logit"), "glm_aliased",
    "ratio=1, link=linear.logit; subtype[HR-/HER2+] aliased")

data_json <- function(d) {
  cols <- lapply(d, function(v) if (is.numeric(v)) arr(num(v)) else arr(str(v)))
  obj(cols)
}
out <- obj(list(
  r_version = str(R.version.string),
  matchit_version = str(as.character(packageVersion("MatchIt"))),
  data_int = data_json(dat_i), data_small = data_json(dat_s), data_glm = data_json(dat_g),
  data_aliased = data_json(dat_a),
  cases = arr(cases)))
writeLines(out, "tests/reference/matchit/fixtures.json")
