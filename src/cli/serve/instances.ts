import { existsSync } from 'node:fs';
import type { CompiledFlow } from '../../compiler/types';
import type { Engine } from '../../runtime/engine';
import { HttpError } from './http';
import { summaryOf, trailOf } from './instance-trail';
import { recordedAs, type FlowFile } from './flows-folder';
import type { InstanceListing, InstanceTrail } from './types';

/** How many of the newest instances are searched for a flow's own. */
const SEARCHED_INSTANCES = 500;

/**
 * The instances a database holds for the served flows. The database is opened for each request
 * and closed after it, so the server never holds it while workers write, and it is never
 * created by looking: a missing file is reported as such.
 */
export class InstanceReader {
  constructor(private readonly database: string) {}

  async list(file: FlowFile): Promise<InstanceListing> {
    if (!existsSync(this.database)) return { database: this.database, exists: false, instances: [] };
    return this.withEngine((engine) => ({
      database: this.database,
      exists: true,
      instances: engine
        .instances({ limit: SEARCHED_INSTANCES })
        .filter((instance) => recordedAs(instance.flowPath, file))
        .map(summaryOf),
    }));
  }

  /** One instance's trail, drawn on `flow` (the file as it is now, if it compiles). */
  async trail(file: FlowFile, id: string, flow: CompiledFlow | undefined): Promise<InstanceTrail> {
    if (!existsSync(this.database)) throw new HttpError(404, `there is no database at ${this.database}`);
    return this.withEngine((engine) => {
      const instance = engine.instance(id);
      if (instance === undefined || instance.id !== id || !recordedAs(instance.flowPath, file)) throw new HttpError(404, `no instance ${id} of ${file.name}`);
      return trailOf(instance, engine.machine(instance.machine), flow);
    });
  }

  private async withEngine<T>(read: (engine: Engine) => T): Promise<T> {
    const { Engine } = await import('../../runtime/engine');
    let engine: Engine;
    try {
      engine = new Engine({ db: this.database });
    } catch (error) {
      throw new HttpError(500, `cannot open the database ${this.database}: ${error instanceof Error ? error.message : String(error)}`);
    }
    try {
      return read(engine);
    } finally {
      engine.close();
    }
  }
}
