/**
 * The plots saved with each sampler run (trace.svg, running-mean-fge.svg, running-mean-time.svg,
 * rank.svg, energy.svg), those of an experiment's report (comparison, convergence overlay, fit
 * scatter, loss bars) and the numbers behind them, as standalone SVG strings with no dependencies.
 */
export { tracePlot, type TracePlotOptions } from './trace';
export { runningMeanBand, runningMeanPlot, type RunningMeanBand, type RunningMeanPlotOptions } from './running-mean';
export { defaultRankBins, rankHistograms, rankPlot, type RankPlotOptions } from './rank';
export { ebfmi, energyPlot, type EnergyPlotOptions } from './energy';
export { comparisonPlot, FAR, farPoints, type ComparisonPlotOptions, type ComparisonPoint } from './comparison';
export { overlayPlot, type OverlayPlotOptions, type OverlaySeries } from './overlay';
export { scatterPlot, type ScatterPlotOptions, type ScatterSet } from './scatter';
export { barPlot, type BarPlotOptions } from './bars';
