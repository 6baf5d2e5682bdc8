// console behaviour (no inline scripts: CSP forbids them)
