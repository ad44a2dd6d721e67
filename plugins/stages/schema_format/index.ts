import Joi from 'joi';
import { defineStage } from 'tsstore/plugin';
import { SchemaFormatStage } from './schema-format-stage.js';

/** `schema_format`: schema stores only — data must fit the store's schema; stored compact. */
export default defineStage<Record<string, never>>({
  type: 'schema_format',
  description: "Checks schema-store data against the store's schema (field names or indices, exact type ranges) and stores it compact, keyed by field index.",
  apiVersion: '^1.0.0',
  options: Joi.object({}),
  create: () => new SchemaFormatStage(),
});
