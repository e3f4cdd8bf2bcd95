/** The baseline serves no API of its own (Ponder's /health and /ready only). */
import { Hono } from "hono";

export default new Hono();
