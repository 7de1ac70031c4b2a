import type { ComponentChildren } from 'preact';

/** A list of labelled facts (`<dl class="facts">`), in a grid with `grid`. */
export function Facts({ grid, children }: { grid?: boolean; children: ComponentChildren }) {
  return <dl class={grid ? 'facts facts-grid' : 'facts'}>{children}</dl>;
}

/** One fact of a Facts list; `wide` spans the grid's row. */
export function Fact({ label, wide, children }: { label: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <div class={wide ? 'wide' : undefined}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
