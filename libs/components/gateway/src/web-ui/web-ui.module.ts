import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestMiddleware,
  type NestModule,
  type OnModuleInit,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger, Registry } from '@firn/observability';
import { LOGGER, METRICS } from '@firn/server-runtime';
import { WebUiMetrics } from './web-ui.metrics';
import { uiResponse } from './web-ui.routes';
import { WebUiSite, resolveUiDir } from './web-ui.site';

export interface WebUiOptions {
  /** `FIRN_UI_DIR`: a directory, `off`, or empty for this installation's dist/web. */
  uiDir: string;
}

const WEB_UI_OPTIONS = Symbol('firn.web-ui-options');

/** Loads the built UI once at start; a missing build is a warning, not a failed start. */
@Injectable()
export class WebUiService implements OnModuleInit {
  site: WebUiSite | undefined;
  enabled = true;
  private readonly metrics: WebUiMetrics;

  constructor(
    @Inject(WEB_UI_OPTIONS) private readonly opts: WebUiOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    this.metrics = new WebUiMetrics(registry);
  }

  async onModuleInit(): Promise<void> {
    const dir = resolveUiDir(this.opts.uiDir, process.cwd());
    if (!dir) {
      this.enabled = false;
      this.log.info('web UI off (FIRN_UI_DIR=off)');
      return;
    }
    try {
      this.site = await WebUiSite.load(dir);
      this.log.info({ dir, files: this.site.size }, 'serving the web UI at /');
    } catch (err) {
      this.log.warn({ dir, err: (err as Error).message }, 'web UI not built; / explains how to build it (npm run build:web)');
    }
  }

  handle(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void {
    // Express rewrites req.url relative to the middleware's mount path; originalUrl is the request's.
    const url = req.originalUrl ?? req.url ?? '/';
    const out = this.enabled
      ? uiResponse(this.site, {
          method: req.method ?? 'GET',
          url,
          acceptEncoding: header(req, 'accept-encoding'),
          ifNoneMatch: header(req, 'if-none-match'),
          accept: header(req, 'accept'),
        })
      : undefined;
    if (!out) {
      next();
      return;
    }
    this.metrics.requests.inc({ outcome: out.outcome });
    res.writeHead(out.status, out.headers);
    res.end(out.body);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

@Injectable()
class WebUiMiddleware implements NestMiddleware {
  constructor(private readonly ui: WebUiService) {}

  use(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void {
    this.ui.handle(req, res, next);
  }
}

/**
 * The web UI at `/` of the gateway (and so of the all-in-one): static files and the SPA
 * fallback, as middleware that steps aside for every API path (see `isApiPath`). RPCs never
 * reach it: the one-port server routes Connect/gRPC procedures before the HTTP app.
 */
@Module({})
export class WebUiModule implements NestModule {
  static forRoot(opts: WebUiOptions): DynamicModule {
    return { module: WebUiModule, providers: [{ provide: WEB_UI_OPTIONS, useValue: opts }, WebUiService, WebUiMiddleware] };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(WebUiMiddleware).forRoutes('*');
  }
}
