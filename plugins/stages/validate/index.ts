import Joi from 'joi';
import { defineStage } from 'tsstore/plugin';
import { ValidateStage } from './validate-stage.js';

/** `validate`: data must fit the store's data type; produces the bytes to store. */
export default defineStage<Record<string, never>>({
  type: 'validate',
  description: "Checks each record's data against its store's data type (json, text, binary) and prepares the bytes to store.",
  apiVersion: '^1.0.0',
  options: Joi.object({}),
  create: () => new ValidateStage(),
});
