# R side of bench/warnings_vs_r.sh: export the weekly data sets of the `surveillance`
# package as count series, run earsC (C1, C2, C3) and farringtonFlexible (default,
# Noufaily, muan) over them, and write R's upper bounds and alarms.
#
# Usage: Rscript warnings_vs_r.R OUTDIR [fixtures]
# Every series is rebuilt as an index-based weekly sts (freq 52, no epochAsDate), the
# convention yiwei's Farrington follows (reference weeks k - 52 i).
suppressMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
outdir <- args[1]
fixtures <- length(args) > 1 && args[2] == "fixtures"

get_sts <- function(name) {
  e <- new.env()
  suppressWarnings(data(list = name, package = "surveillance", envir = e))
  x <- get(name, e)
  if (inherits(x, "disProg")) x <- disProg2sts(x)
  x
}

# name -> integer vector; columns chosen to keep R's Farrington run to a few minutes.
series <- list()
add <- function(set, cols = NULL) {
  x <- get_sts(set)
  obs <- observed(x)
  if (is.null(cols)) cols <- seq_len(ncol(obs))
  for (j in cols) {
    y <- obs[, j]
    if (any(is.na(y)) || any(y < 0) || any(y != round(y))) next
    nm <- if (ncol(obs) == 1) set else paste0(set, ".", make.names(colnames(obs)[j]))
    series[[nm]] <<- as.integer(y)
  }
}
if (fixtures) {
  add("salmonella.agona"); add("shadar")
  # A hand-made series with flat stretches: exercises sd = 0 (R's NA in C3) and limit54.
  series[["flat_then_outbreak"]] <- as.integer(c(rep(c(0, 0, 1, 0, 0, 0, 2), 45), 0, 0, 0, 0, 0, 0, 0, 0, 5, 9, 12, 3))
} else {
  for (s in c("abattoir", "salmonella.agona", "shadar", "hepatitisA", "h1_nrwrp", "k1",
              "m1", "m2", "m3", "m4", "m5", "n1", "n2", "q1_nrwh", "q2", "s1", "s2", "s3",
              "stsNewport", "salmAllOnset", "salmHospitalized")) add(s)
  add("ha", 1:4); add("influMen"); add("measlesDE", 1:6); add("momo", 1:3)
  add("salmNewport", 1:4); add("fluBYBW", 1:3)
}

write_counts <- function(names, file) {
  con <- file(file, "w")
  writeLines("series,count", con)
  for (nm in names) writeLines(paste(nm, series[[nm]], sep = ","), con)
  close(con)
}

as_sts <- function(y) sts(observed = matrix(y, ncol = 1), start = c(2001, 1), frequency = 52)

run <- function(code, names, fun) {
  rows <- list()
  t0 <- proc.time()[["elapsed"]]
  for (nm in names) {
    res <- fun(as_sts(series[[nm]]))
    # The result is sts[range, ], renumbered from 1; range always runs to the end.
    idx <- length(series[[nm]]) - nrow(res) + seq_len(nrow(res)) - 1  # 0-based
    rows[[nm]] <- data.frame(series = nm, index = idx, observed = as.vector(observed(res)),
                             upperbound = as.vector(upperbound(res)),
                             alarm = as.vector(alarms(res)))
  }
  elapsed <- proc.time()[["elapsed"]] - t0
  d <- do.call(rbind, rows)
  d$upperbound <- ifelse(is.na(d$upperbound), "NA", sprintf("%.17g", d$upperbound))
  d$alarm <- ifelse(is.na(d$alarm), "NA", ifelse(d$alarm, "TRUE", "FALSE"))
  write.csv(d, file.path(outdir, paste0("r_", code, ".csv")), row.names = FALSE, quote = FALSE)
  cat(sprintf("R %s: %d series, %d points in %.3f s\n", code, length(names), nrow(d), elapsed))
}

all_names <- names(series)[sapply(series, length) >= 20]
farr_names <- names(series)[sapply(series, length) >= 52 * 5 + 3 + 1 + 4]
write_counts(all_names, file.path(outdir, "counts_ears.csv"))
write_counts(farr_names, file.path(outdir, "counts_farrington.csv"))

for (m in c("C1", "C2", "C3")) {
  run(paste0("ears_", tolower(m)), all_names, function(s) earsC(s, control = list(method = m)))
}
ff <- function(ctl) function(s) suppressWarnings(farringtonFlexible(s, control = ctl))
run("farrington", farr_names, ff(list()))
run("farrington_noufaily", farr_names,
    ff(list(noPeriods = 10, pastWeeksNotIncluded = 26, weightsThreshold = 2.58,
            pThresholdTrend = 1, thresholdMethod = "nbPlugin")))
run("farrington_muan", farr_names,
    ff(list(noPeriods = 10, pastWeeksNotIncluded = 26, thresholdMethod = "muan")))
run("farrington_b3_none", farr_names,
    ff(list(b = 3, w = 2, powertrans = "none", reweight = FALSE, limit54 = c(0, 4), alpha = 0.01)))
