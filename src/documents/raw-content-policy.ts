/**
 * The Content-Security-Policy of `/documents/{id}/raw`, whatever the document's type. A
 * stored page is someone else's content on this origin: `sandbox` gives it an opaque origin
 * with no script, forms, popups or top-level navigation, and `default-src 'none'` keeps it
 * from loading anything (images, styles, fonts, frames), so it can neither track its readers
 * nor dress itself up from elsewhere. Inline styles and `data:` images load nothing from the
 * network, so a page may still use them to look like itself.
 */
export const RAW_CONTENT_SECURITY_POLICY = [
  'sandbox',
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
