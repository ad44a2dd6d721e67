/**
 * The one place tsyringe is imported from. tsyringe throws at import time unless
 * `reflect-metadata` was loaded first, and `oclif manifest` loads command modules without
 * going through bin/run.js, so every module that needs DI imports it from here.
 */
import 'reflect-metadata';
export * from 'tsyringe';
