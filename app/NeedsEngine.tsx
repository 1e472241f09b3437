/** In place of a page that measures the in-browser engine, while the chat talks to a server. */
export function NeedsEngine(props: { page: string; server: string }) {
  return (
    <section className="panel" data-testid="needs-engine">
      <p className="notice">
        {props.page} measures the in-browser engine on this page&apos;s GPU; the chat now talks to the server at <code>{props.server}</code>. Load a model in
        the browser (pick one above and press Load) to use it.
      </p>
    </section>
  );
}
