export { StreamingUMAPClient, type ClientOptions } from './client';
export {
  HttpClient, immediateResult, API, type Data, type FetchLike, type HttpOptions, type ModelPage, type NpyBody,
} from './http';
export {
  JobSubscription,
  WS_PROTOCOL,
  WS_TOKEN_PREFIX,
  type ReconnectOptions,
  type SocketFactory,
  type SocketLike,
  type SubscribeOptions,
} from './subscription';
export { parseNpy, writeNpy, NpyFormatError, type Npy, type NpyArray } from './npy';
export { matrixFromRows, matrixToRows, matrixFromNpy, labelsFromNpy, isMatrix, type Matrix } from './matrix';
export { parseCsv, CsvFormatError } from './csv';
export {
  StreamingUMAPError, JobNotFoundError, ModelNotFoundError, ControlRefusedError, TransportError, UnauthorizedError,
} from './errors';
export * from './types';
