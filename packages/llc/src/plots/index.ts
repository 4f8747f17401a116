/**
 * The plots saved with each sampler run (trace.svg, running-mean-fge.svg, running-mean-time.svg,
 * rank.svg, energy.svg) and the numbers behind them, as standalone SVG strings with no dependencies.
 */
export { tracePlot, type TracePlotOptions } from './trace';
export { runningMeanBand, runningMeanPlot, type RunningMeanBand, type RunningMeanPlotOptions } from './running-mean';
export { defaultRankBins, rankHistograms, rankPlot, type RankPlotOptions } from './rank';
export { ebfmi, energyPlot, type EnergyPlotOptions } from './energy';
