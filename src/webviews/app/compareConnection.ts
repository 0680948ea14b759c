// The compare editor's end of its protocol (src/shared/compareProtocol.ts).

import type { CompareHostEvent, CompareRequestMap, CompareWebviewEvent } from '../../shared/compareProtocol';
import { Connection } from './connection';

export class CompareConnection extends Connection<CompareRequestMap, CompareHostEvent, CompareWebviewEvent> {}
