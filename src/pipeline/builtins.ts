/** Built-in plugins, registered through the same path as outside packages. */
import type { PluginDescriptor } from '../plugin/descriptor.js';
import restInput from '../../plugins/inputs/rest/index.js';
import websocketInput from '../../plugins/inputs/websocket/index.js';
import unixSocketInput from '../../plugins/inputs/unix_socket/index.js';
import wsPullInput from '../../plugins/inputs/ws_pull/index.js';
import validateStage from '../../plugins/stages/validate/index.js';
import schemaFormatStage from '../../plugins/stages/schema_format/index.js';
import blockfileSink from '../../plugins/sinks/blockfile/index.js';
import memorySink from '../../plugins/sinks/memory/index.js';
import natsJetStreamSink from '../../plugins/sinks/nats_jetstream/index.js';
import blockfileForwardSink from '../../plugins/sinks/blockfile_forward/index.js';
import wsReadOutput from '../../plugins/outputs/ws_read/index.js';
import wsPushOutput from '../../plugins/outputs/ws_push/index.js';
import mqttPublishOutput from '../../plugins/outputs/mqtt_publish/index.js';

export const BUILTIN_PLUGINS: readonly PluginDescriptor[] = [
  restInput,
  websocketInput,
  unixSocketInput,
  wsPullInput,
  validateStage,
  schemaFormatStage,
  blockfileSink,
  memorySink,
  natsJetStreamSink,
  blockfileForwardSink,
  wsReadOutput,
  wsPushOutput,
  mqttPublishOutput,
];
