# R time on the series of `cargo bench -p yiwei-domain --bench surveillance`
# (exported with YIWEI_BENCH_EXPORT=DIR). Usage: Rscript warnings_bench_r.R DIR [n_farrington]
# EARS runs on all 1,200 daily series; farringtonFlexible (b = 3, weekly) on the first
# n_farrington series (default 10) and is scaled to 1,200, because R needs minutes per
# few thousand points.
suppressMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
n_farr <- if (length(args) > 1) as.integer(args[2]) else 10L
eval_days <- 3 * 365; eval_weeks <- 156
load_series <- function(f) { d <- read.csv(file.path(dir, f)); split(d$count, factor(d$series, levels = unique(d$series))) }
daily <- load_series("daily.csv")
weekly <- load_series("weekly.csv")
mk <- function(y) sts(observed = matrix(y, ncol = 1), start = c(2001, 1), frequency = 52)
for (m in c("C1", "C2", "C3")) {
  t0 <- proc.time()[["elapsed"]]
  for (y in daily) { n <- length(y); earsC(mk(y), control = list(method = m, range = (n - eval_days + 1):n)) }
  cat(sprintf("R ears_%s: %d series, %.3f s\n", tolower(m), length(daily), proc.time()[["elapsed"]] - t0))
}
t0 <- proc.time()[["elapsed"]]
for (y in weekly[seq_len(n_farr)]) { n <- length(y)
  suppressWarnings(farringtonFlexible(mk(y), control = list(b = 3, range = (n - eval_weeks + 1):n))) }
el <- proc.time()[["elapsed"]] - t0
cat(sprintf("R farrington (b=3): %d series, %.3f s; scaled to %d series: %.1f s\n", n_farr, el, length(weekly), el * length(weekly) / n_farr))
