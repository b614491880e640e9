# Reference values for micromet.describe: wilcox.test (normal approximation, continuity
# correction, tie-corrected variance), chisq.test(correct = FALSE) and quantile(type = 7).
# Run from this directory: Rscript make_reference.R  (writes fixture.csv and reference.json)
set.seed(20251)
n1 <- 37; n2 <- 23; n3 <- 15
group <- c(rep("A", n1), rep("B", n2), rep("C", n3))
age <- c(round(rnorm(n1, 62, 11)), round(rnorm(n2, 58, 12)), round(rnorm(n3, 65, 9)))
size <- c(round(rlnorm(n1, log(16), 0.7), 1), round(rlnorm(n2, log(19), 0.6), 1),
          round(rlnorm(n3, log(14), 0.8), 1))
age[c(5, 41)] <- NA
grade <- sample(c("I-II", "III"), n1 + n2 + n3, replace = TRUE, prob = c(0.7, 0.3))
subtype <- sample(c("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"), n1 + n2 + n3,
                  replace = TRUE, prob = c(0.6, 0.15, 0.1, 0.15))
subtype[c(3, 60)] <- NA
d <- data.frame(group = group, age = age, size = size, grade = grade, subtype = subtype)
write.csv(d, "fixture.csv", row.names = FALSE, na = "")

two <- d[d$group %in% c("A", "B"), ]
f17 <- function(x) if (is.na(x)) "null" else sprintf("%.17g", x)
out <- list()
for (v in c("age", "size")) {
  x <- two[[v]][two$group == "A"]; y <- two[[v]][two$group == "B"]
  w <- wilcox.test(x, y, exact = FALSE, correct = TRUE)
  qa <- quantile(x, c(0.25, 0.5, 0.75), type = 7, na.rm = TRUE)
  qb <- quantile(y, c(0.25, 0.5, 0.75), type = 7, na.rm = TRUE)
  out[[length(out) + 1]] <- sprintf(
    '"wilcox_%s": {"W": %s, "p": %s, "q_A": [%s], "q_B": [%s]}', v, f17(unname(w$statistic)),
    f17(w$p.value), paste(sapply(qa, f17), collapse = ", "),
    paste(sapply(qb, f17), collapse = ", "))
}
for (v in c("grade", "subtype")) {
  tab <- table(two[[v]], two$group)
  tab <- tab[, c("A", "B")]
  ct <- suppressWarnings(chisq.test(tab, correct = FALSE))
  out[[length(out) + 1]] <- sprintf('"chisq_%s": {"statistic": %s, "df": %s, "p": %s}', v,
                                    f17(unname(ct$statistic)), f17(unname(ct$parameter)),
                                    f17(ct$p.value))
}
# three groups: chi-square and Kruskal-Wallis
ct3 <- suppressWarnings(chisq.test(table(d$subtype, d$group), correct = FALSE))
kw <- kruskal.test(size ~ group, data = d)
out[[length(out) + 1]] <- sprintf('"chisq3_subtype": {"statistic": %s, "df": %s, "p": %s}',
                                  f17(unname(ct3$statistic)), f17(unname(ct3$parameter)),
                                  f17(ct3$p.value))
out[[length(out) + 1]] <- sprintf('"kruskal_size": {"statistic": %s, "df": %s, "p": %s}',
                                  f17(unname(kw$statistic)), f17(unname(kw$parameter)),
                                  f17(kw$p.value))
# the paper's Table 1 counts
t1 <- list(
  histology = c(239129, 44374, 490, 95), grade = c(202498, 81005, 408, 177),
  er = c(41351, 242152, 83, 502), pr = c(70889, 212614, 151, 434),
  her2 = c(247609, 35894, 510, 75),
  subtype = c(218830, 25788, 10106, 28779, 450, 53, 22, 60),
  t_stage = c(263907, 19596, 546, 39), n_stage = c(209521, 73982, 414, 171))
for (v in names(t1)) {
  m <- matrix(t1[[v]], ncol = 2)
  ct <- chisq.test(m, correct = FALSE)
  out[[length(out) + 1]] <- sprintf('"paper_%s": {"statistic": %s, "p": %s}', v,
                                    f17(unname(ct$statistic)), f17(ct$p.value))
}
writeLines(c("{", paste(unlist(out), collapse = ",\n"), "}"), "reference.json")
