/**
 * The plots of an experiment's report — each run's trace, rank and energy plots, and per target and
 * experiment the comparison, convergence overlay, fit scatter and loss bars — and the numbers behind
 * them, as standalone SVG strings with no dependencies.
 */
export { tracePlot, type TracePlotOptions } from './trace';
export { runningMeanBand, type RunningMeanBand } from './running-mean';
export { defaultRankBins, rankHistograms, rankPlot, type RankPlotOptions } from './rank';
export { ebfmi, energyPlot, type EnergyPlotOptions } from './energy';
export { comparisonPlot, FAR, farPoints, type ComparisonPlotOptions, type ComparisonPoint } from './comparison';
export { overlayPlot, type OverlayPlotOptions, type OverlaySeries } from './overlay';
export { scatterPlot, type ScatterPlotOptions, type ScatterSet } from './scatter';
export { barPlot, type BarPlotOptions } from './bars';
