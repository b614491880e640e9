# Reference outputs of survival 3.5-3 for micromet.survival.km / km_median (tests/test_km_median.py):
# Kaplan-Meier limits for conf.type "log", "log-log", "plain" and print(survfit)'s median with its
# 95% CI, on ../survival/survival_data.csv (monthly times, ties; continuous times), on the same data
# with one group cut to "not reached", and on R's lung data. Run from this folder:
#   Rscript make_km.R      (writes km_reference.json, 17 significant digits; lung.csv)
suppressPackageStartupMessages(library(survival))
stopifnot(packageVersion("survival") == "3.5.3")
num <- function(v) ifelse(is.na(v), "null", ifelse(is.finite(v), sprintf("%.17g", v), '"Inf"'))
arr <- function(v) paste0("[", paste(num(v), collapse = ", "), "]")
d <- read.csv("../survival/survival_data.csv")
d$status_nr <- ifelse(d$group == "M0(i+)" & d$time > 20, 0L, d$status)  # M0(i+): median not reached
lung2 <- na.omit(lung[, c("time", "status", "sex")])
lung2$status <- lung2$status - 1L
write.csv(lung2, "lung.csv", row.names = FALSE)
cases <- list(
  list(name = "monthly", data = d, time = "time", status = "status"),
  list(name = "continuous", data = d, time = "time_c", status = "status"),
  list(name = "not_reached", data = d, time = "time", status = "status_nr"),
  list(name = "lung", data = transform(lung2, group = ifelse(sex == 1, "male", "female")),
       time = "time", status = "status")
)
out <- c()
for (cs in cases) {
  for (ct in c("log", "log-log", "plain")) {
    f <- survfit(as.formula(paste0("Surv(", cs$time, ", ", cs$status, ") ~ group")),
                 data = cs$data, conf.type = ct)
    tab <- summary(f)$table
    s <- summary(f, censored = TRUE)
    strata <- sub("^group=", "", as.character(s$strata))
    key <- paste0(cs$name, "/", ct)
    out <- c(out, paste0('"', key, '": {',
      '"groups": [', paste0('"', sub("^group=", "", rownames(tab)), '"', collapse = ", "), '], ',
      '"n": ', arr(tab[, "records"]), ', "events": ', arr(tab[, "events"]), ', ',
      '"median": ', arr(tab[, "median"]), ', "lower": ', arr(tab[, "0.95LCL"]), ', ',
      '"upper": ', arr(tab[, "0.95UCL"]), ', ',
      '"curve": {"group": [', paste0('"', strata, '"', collapse = ", "), '], ',
      '"time": ', arr(s$time), ', "surv": ', arr(s$surv), ', "lower": ', arr(s$lower),
      ', "upper": ', arr(s$upper), '}}'))
  }
}
writeLines(c("{", paste(out, collapse = ",\n"), "}"), "km_reference.json")
