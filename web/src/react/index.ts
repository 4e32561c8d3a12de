export {
  documentedResult,
  useStreamingUMAP,
  type ActiveJob,
  type ClusterJobParams,
  type FollowOptions,
  type JobData,
  type StartedJob,
  type TransformJobOptions,
  type UMAPJobParams,
  type UseStreamingUMAP,
  type UseStreamingUMAPOptions,
} from './useStreamingUMAP';
export { StreamingProgressMonitor, type MonitoredJob, type StreamingProgressMonitorProps } from './StreamingProgressMonitor';
export { StreamingUMAPProvider, useStreamingUMAPClient } from './context';
export { formatDuration, remainingSeconds, elapsedSeconds } from './format';
