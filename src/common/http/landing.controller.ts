import { Public } from '../../auth/decorators/auth.decorators.js';
import { Controller, Get, Header, ImATeapotException } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { ApiProblem } from './api-problem.decorator.js';

const LANDING_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Documents API</title>
  </head>
  <body>
    <main>
      <h1>Documents API</h1>
      <p>Session-authenticated, cached document storage over HTTP.</p>
      <p>The API is described at <a href="/docs">/docs</a>.</p>
    </main>
  </body>
</html>
`;

@Public()
@Controller()
export class LandingController {
  /** A small page that points people at the API documentation. */
  @ApiOkResponse({
    description: 'An HTML page',
    content: { 'text/html': { schema: { type: 'string' } } },
  })
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  landing(): string {
    return LANDING_PAGE;
  }

  /** RFC 2324: this server is a teapot and will not brew coffee. */
  @ApiProblem(418, "I'm a teapot")
  @Get('coffee')
  coffee(): never {
    throw new ImATeapotException('This server is a teapot; it cannot brew coffee');
  }
}
