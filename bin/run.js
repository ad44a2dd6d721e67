#!/usr/bin/env node
'use strict';
require('reflect-metadata');
const { execute } = require('@oclif/core');
execute({ dir: __dirname }).catch(require('@oclif/core/handle'));
