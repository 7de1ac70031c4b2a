import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface MenuItem {
  label: string;
  onSelect: () => void;
  disabled?: boolean;
  danger?: boolean;
}

/**
 * A menu button: the button opens a list of role="menuitem" with the focus on the first; arrow keys, Home and End
 * move, Enter or Space picks, Escape or Tab closes and the focus returns to the button. The menu is positioned
 * fixed under the button so a scrolling table does not clip it.
 */
export function MenuButton({ label, items, text = '⋯' }: { label: string; items: MenuItem[]; text?: string }) {
  const [open, setOpen] = useState(false);
  const [position, setPosition] = useState<{ top: number; right: number } | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);
  const id = useId();

  const itemsOf = () => Array.from(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? []);
  const focusItem = (index: number) => {
    const all = itemsOf();
    if (all.length === 0) return;
    all[(index + all.length) % all.length].focus();
  };
  const close = (returnFocus: boolean) => {
    setOpen(false);
    if (returnFocus) button.current?.focus();
  };

  useLayoutEffect(() => {
    if (!open || !button.current) return;
    const rect = button.current.getBoundingClientRect();
    setPosition({ top: rect.bottom + 4, right: Math.max(8, window.innerWidth - rect.right) });
  }, [open]);

  useLayoutEffect(() => {
    if (!menu.current || !position) return;
    menu.current.style.top = `${position.top}px`;
    menu.current.style.right = `${position.right}px`;
    const rect = menu.current.getBoundingClientRect();
    if (rect.bottom > window.innerHeight - 8 && button.current) {
      const b = button.current.getBoundingClientRect();
      menu.current.style.top = `${Math.max(8, b.top - rect.height - 4)}px`;
    }
    focusItem(0);
  }, [position]);

  useEffect(() => {
    if (!open) return;
    const onPointer = (e: PointerEvent) => {
      const target = e.target as Node;
      if (!menu.current?.contains(target) && !button.current?.contains(target)) close(false);
    };
    const onMove = () => close(false);
    document.addEventListener('pointerdown', onPointer);
    window.addEventListener('resize', onMove);
    window.addEventListener('scroll', onMove, true);
    return () => {
      document.removeEventListener('pointerdown', onPointer);
      window.removeEventListener('resize', onMove);
      window.removeEventListener('scroll', onMove, true);
    };
  }, [open]);

  const onMenuKey = (e: KeyboardEvent) => {
    const all = itemsOf();
    const index = all.indexOf(document.activeElement as HTMLElement);
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        focusItem(index + 1);
        break;
      case 'ArrowUp':
        e.preventDefault();
        focusItem(index - 1);
        break;
      case 'Home':
        e.preventDefault();
        focusItem(0);
        break;
      case 'End':
        e.preventDefault();
        focusItem(all.length - 1);
        break;
      case 'Escape':
        e.preventDefault();
        close(true);
        break;
      case 'Tab':
        close(false);
        break;
      default:
        if (e.key.length === 1 && /\S/.test(e.key)) {
          const start = index + 1;
          const match = [...all.slice(start), ...all.slice(0, start)].find((el) =>
            (el.textContent ?? '').toLowerCase().startsWith(e.key.toLowerCase()),
          );
          match?.focus();
        }
    }
  };

  return (
    <div class="menu-wrap">
      <button
        ref={button}
        type="button"
        class="btn btn-icon"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => (open ? close(true) : setOpen(true))}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        <span aria-hidden="true">{text}</span>
      </button>
      {open && (
        <ul ref={menu} id={id} role="menu" aria-label={label} class="menu" onKeyDown={onMenuKey}>
          {items.map((item) => (
            <li
              key={item.label}
              role="menuitem"
              tabIndex={-1}
              aria-disabled={item.disabled || undefined}
              class={`menu-item${item.danger ? ' danger' : ''}`}
              onClick={() => {
                if (item.disabled) return;
                close(true);
                item.onSelect();
              }}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  if (item.disabled) return;
                  close(true);
                  item.onSelect();
                }
              }}
            >
              {item.label}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
